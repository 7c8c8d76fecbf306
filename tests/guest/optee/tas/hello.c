/*
 * hello: command 0 adds one to a value (value_inout a); command 1 panics; command 2
 * faults; command 3 reports how often the instance was created and what an unknown
 * utee number answers; command 4 reads the property named by params[0] from the
 * property set params[1].value.a into params[2], its type into params[3].value.a;
 * command 5 makes utee call params[0].value.a with the eight arguments in params[1]
 * (an argument of 1 becomes a pointer to a zeroed scratch page) and returns what it
 * answered in params[2].value.a; command 6 waits params[0].value.a milliseconds and
 * reports in params[1] the milliseconds of system time that passed and the REE time's
 * seconds; command 7 never returns; command 8 unmasks cancellation and waits for ever,
 * reporting the wait's result and the cancellation flag in params[0].
 */
#include "tee_ta.h"

TA_HEADER(16384, 0, 0x8aaaf200, 0x2450, 0x11e4, 0xab, 0xe2, 0x00, 0x02, 0xa5, 0xd5, 0xc5, 0x1b);

static int created;
static volatile unsigned long bad_address = 16;
static unsigned char scratch[4096] __attribute__((aligned(4096)));

TEE_Result TA_CreateEntryPoint(void) { created++; return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}

TEE_Result TA_OpenSessionEntryPoint(uint32_t types, TEE_Param params[4], void **session)
{
	(void)types;
	(void)params;
	*session = 0;
	ta_log("hello: session opened");
	return TEE_SUCCESS;
}

void TA_CloseSessionEntryPoint(void *session) { (void)session; }

TEE_Result TA_InvokeCommandEntryPoint(void *session, uint32_t cmd, uint32_t types, TEE_Param params[4])
{
	(void)session;
	switch (cmd) {
	case 0:
		if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INOUT, 0, 0, 0))
			return TEE_ERROR_BAD_PARAMETERS;
		params[0].value.a++;
		return TEE_SUCCESS;
	case 1:
		utee_panic(0xdead);
	case 2:
		*(volatile int *)bad_address = 1;
		return TEE_SUCCESS;
	case 3: /* how many times this instance was created, and an unknown utee number's answer */
		if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_OUTPUT, 0, 0, 0))
			return TEE_ERROR_BAD_PARAMETERS;
		params[0].value.a = created;
		params[0].value.b = (uint32_t)utee_syscall(500, 0, 0, 0, 0, 0, 0, 0, 0);
		return TEE_SUCCESS;
	case 4: {
		uint32_t index, type, len;
		TEE_Result res;

		if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_VALUE_INPUT,
					     TEE_PARAM_TYPE_MEMREF_OUTPUT, TEE_PARAM_TYPE_VALUE_OUTPUT))
			return TEE_ERROR_BAD_PARAMETERS;
		res = utee_get_property_name_to_index(params[1].value.a, params[0].memref.buffer,
						      params[0].memref.size, &index);
		if (res)
			return res;
		len = params[2].memref.size;
		res = utee_get_property(params[1].value.a, index, 0, 0, params[2].memref.buffer, &len, &type);
		params[2].memref.size = len;
		params[3].value.a = type;
		return res;
	}
	case 5: {
		long args[8];

		if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_MEMREF_INPUT,
					     TEE_PARAM_TYPE_VALUE_OUTPUT, 0) || params[1].memref.size != sizeof(args))
			return TEE_ERROR_BAD_PARAMETERS;
		memcpy(args, params[1].memref.buffer, sizeof(args));
		memset(scratch, 0, sizeof(scratch));
		for (int i = 0; i < 8; i++)
			if (args[i] == 1)
				args[i] = (long)scratch;
		params[2].value.a = (uint32_t)utee_syscall(params[0].value.a, args[0], args[1], args[2], args[3],
							   args[4], args[5], args[6], args[7]);
		return TEE_SUCCESS;
	}
	case 6: {
		TEE_Time before, after, ree;
		TEE_Result res;

		if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_VALUE_OUTPUT, 0, 0))
			return TEE_ERROR_BAD_PARAMETERS;
		res = utee_get_time(0, &before);
		if (!res)
			res = utee_wait(params[0].value.a);
		if (!res)
			res = utee_get_time(0, &after);
		if (!res)
			res = utee_get_time(2, &ree);
		params[1].value.a = (after.seconds - before.seconds) * 1000 + after.millis - before.millis;
		params[1].value.b = ree.seconds;
		return res;
	}
	case 7:
		for (;;)
			bad_address++;
	case 8: {
		uint32_t old, flag = 0;

		if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_OUTPUT, 0, 0, 0))
			return TEE_ERROR_BAD_PARAMETERS;
		utee_unmask_cancellation(&old);
		params[0].value.a = utee_wait(0xFFFFFFFF);
		utee_get_cancellation_flag(&flag);
		params[0].value.b = flag;
		utee_mask_cancellation(&old);
		return TEE_SUCCESS;
	}
	}
	return TEE_ERROR_BAD_PARAMETERS;
}
