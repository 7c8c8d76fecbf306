/* digest: command 0 hashes params[0] with the algorithm in params[1].value.a, in two
 * pieces (update, then final), into params[2] */
#include "tee_ta.h"

TA_HEADER(8192, 0, 0x2d1e0a11, 0x6b3c, 0x4e59, 0x8a, 0x01, 0x5a, 0x11, 0x3c, 0x0d, 0x00, 0x01);

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}
TEE_Result TA_OpenSessionEntryPoint(uint32_t t, TEE_Param p[4], void **s) { (void)t; (void)p; *s = 0; return 0; }
void TA_CloseSessionEntryPoint(void *s) { (void)s; }

TEE_Result TA_InvokeCommandEntryPoint(void *session, uint32_t cmd, uint32_t types, TEE_Param params[4])
{
	uint32_t state;
	uint64_t out_len;
	size_t half;
	TEE_Result res;

	(void)session;
	if (cmd != 0 || types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_VALUE_INPUT,
						 TEE_PARAM_TYPE_MEMREF_OUTPUT, 0))
		return TEE_ERROR_BAD_PARAMETERS;
	res = utee_cryp_state_alloc(params[1].value.a, 5 /* TEE_MODE_DIGEST */, 0, 0, &state);
	if (res)
		return res;
	half = params[0].memref.size / 2;
	res = utee_hash_update(state, params[0].memref.buffer, half);
	out_len = params[2].memref.size;
	if (!res)
		res = utee_hash_final(state, (char *)params[0].memref.buffer + half, params[0].memref.size - half,
				      params[2].memref.buffer, &out_len);
	params[2].memref.size = out_len;
	utee_cryp_state_free(state);
	return res;
}
