/*
 * counter: one instance for all sessions (single instance, multi-session, kept alive).
 * Command 0 counts a call in the instance and in the session: params[0].value.a gets the
 * instance's count, params[0].value.b the session's.
 */
#include "tee_ta.h"

#ifndef COUNTER_FLAGS
#define COUNTER_FLAGS (TA_FLAG_SINGLE_INSTANCE | TA_FLAG_MULTI_SESSION | TA_FLAG_INSTANCE_KEEP_ALIVE)
#define COUNTER_LAST 0x07
#endif

TA_HEADER(8192, COUNTER_FLAGS, 0x2d1e0a17, 0x6b3c, 0x4e59, 0x8a, 0x01, 0x5a, 0x11, 0x3c, 0x0d, 0x00, COUNTER_LAST);

#define SLOTS 8

uint32_t counter_total;
uint32_t counter_sessions[SLOTS];
int counter_used[SLOTS];

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}

TEE_Result TA_OpenSessionEntryPoint(uint32_t types, TEE_Param params[4], void **session)
{
	(void)types;
	(void)params;
	for (int i = 0; i < SLOTS; i++) {
		if (!counter_used[i]) {
			counter_used[i] = 1;
			counter_sessions[i] = 0;
			*session = &counter_sessions[i];
			return TEE_SUCCESS;
		}
	}
	return 0xFFFF000D; /* TEE_ERROR_BUSY */
}

void TA_CloseSessionEntryPoint(void *session)
{
	counter_used[(uint32_t *)session - counter_sessions] = 0;
}

TEE_Result TA_InvokeCommandEntryPoint(void *session, uint32_t cmd, uint32_t types, TEE_Param params[4])
{
	if (cmd != 0 || types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_OUTPUT, 0, 0, 0))
		return TEE_ERROR_BAD_PARAMETERS;
	params[0].value.a = ++counter_total;
	params[0].value.b = ++*(uint32_t *)session;
	return TEE_SUCCESS;
}
