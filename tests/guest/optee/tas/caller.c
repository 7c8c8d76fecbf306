/*
 * caller: sessions on other TAs. params[0] holds the callee's UUID (16 bytes).
 * 0 opens a session on it, invokes command params[1].value.a with params[2] as a
 *   value_inout, closes; params[1].value.b gets the return origin.
 * 1 opens a session on it and invokes its command 4 (read a property) with the name in
 *   params[2] and the client property set, the value into params[3].
 * 2 opens a session on it and returns what that gives; opening a session on the caller
 *   with its own UUID in params[0] does the same from TA_OpenSessionEntryPoint, so the
 *   caller calling itself nests until the TEE refuses.
 */
#include "tee_ta.h"

TA_HEADER(16384, 0, 0x2d1e0a18, 0x6b3c, 0x4e59, 0x8a, 0x01, 0x5a, 0x11, 0x3c, 0x0d, 0x00, 0x09);

#define VI TEE_PARAM_TYPE_VALUE_INPUT
#define VO TEE_PARAM_TYPE_VALUE_OUTPUT
#define VIO TEE_PARAM_TYPE_VALUE_INOUT
#define MI TEE_PARAM_TYPE_MEMREF_INPUT
#define MO TEE_PARAM_TYPE_MEMREF_OUTPUT

static TEE_Result open_ta_session(const void *uuid, struct utee_params *up, uint32_t *session, uint32_t *origin)
{
	return (TEE_Result)utee_syscall(5, (long)uuid, 0, (long)up, (long)session, (long)origin, 0, 0, 0);
}

static TEE_Result invoke_ta_command(uint32_t session, uint32_t cmd, struct utee_params *up, uint32_t *origin)
{
	return (TEE_Result)utee_syscall(7, session, 0, cmd, (long)up, (long)origin, 0, 0, 0);
}

static void close_ta_session(uint32_t session) { utee_syscall(6, session, 0, 0, 0, 0, 0, 0, 0); }

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}
static TEE_Result nest(TEE_Param params[4])
{
	struct utee_params up;
	uint32_t session, origin = 0;
	TEE_Result res;

	memset(&up, 0, sizeof(up));
	up.types = TEE_PARAM_TYPES(MI, VO, 0, 0);
	up.vals[0] = (uintptr_t)params[0].memref.buffer;
	up.vals[1] = params[0].memref.size;
	res = open_ta_session(params[0].memref.buffer, &up, &session, &origin);
	params[1].value.a = origin;
	params[1].value.b = (uint32_t)up.vals[3] + 1; /* how deep the nesting went */
	if (!res)
		close_ta_session(session);
	return res;
}

TEE_Result TA_OpenSessionEntryPoint(uint32_t types, TEE_Param params[4], void **s)
{
	*s = 0;
	if (types == TEE_PARAM_TYPES(MI, VO, 0, 0))
		return nest(params);
	return TEE_SUCCESS;
}
void TA_CloseSessionEntryPoint(void *s) { (void)s; }

TEE_Result TA_InvokeCommandEntryPoint(void *unused, uint32_t cmd, uint32_t types, TEE_Param params[4])
{
	struct utee_params up;
	uint32_t session, origin = 0;
	TEE_Result res;

	(void)unused;
	memset(&up, 0, sizeof(up));
	switch (cmd) {
	case 0:
		if (types != TEE_PARAM_TYPES(MI, TEE_PARAM_TYPE_VALUE_INOUT, VIO, 0))
			return TEE_ERROR_BAD_PARAMETERS;
		res = open_ta_session(params[0].memref.buffer, &up, &session, &origin);
		if (!res) {
			up.types = TEE_PARAM_TYPES(VIO, 0, 0, 0);
			up.vals[0] = params[2].value.a;
			up.vals[1] = params[2].value.b;
			res = invoke_ta_command(session, params[1].value.a, &up, &origin);
			params[2].value.a = (uint32_t)up.vals[0];
			params[2].value.b = (uint32_t)up.vals[1];
			close_ta_session(session);
		}
		params[1].value.b = origin;
		return res;
	case 1:
		if (types != TEE_PARAM_TYPES(MI, VO, MI, MO))
			return TEE_ERROR_BAD_PARAMETERS;
		res = open_ta_session(params[0].memref.buffer, &up, &session, &origin);
		if (res)
			return res;
		up.types = TEE_PARAM_TYPES(MI, VI, MO, VO);
		up.vals[0] = (uintptr_t)params[2].memref.buffer;
		up.vals[1] = params[2].memref.size;
		up.vals[2] = 0xFFFFFFFE; /* TEE_PROPSET_CURRENT_CLIENT */
		up.vals[4] = (uintptr_t)params[3].memref.buffer;
		up.vals[5] = params[3].memref.size;
		res = invoke_ta_command(session, 4, &up, &origin);
		params[3].memref.size = up.vals[5];
		params[1].value.a = origin;
		close_ta_session(session);
		return res;
	case 2:
		if (types != TEE_PARAM_TYPES(MI, VO, 0, 0))
			return TEE_ERROR_BAD_PARAMETERS;
		return nest(params);
	}
	return TEE_ERROR_BAD_PARAMETERS;
}
