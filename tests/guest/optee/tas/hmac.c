/* hmac: command 0 computes the MAC (HMAC-SHA* or AES-CMAC, algorithm in params[2].value.a)
 * of params[1] under the key params[0], into params[3] */
#include "tee_ta.h"

TA_HEADER(8192, 0, 0x2d1e0a12, 0x6b3c, 0x4e59, 0x8a, 0x01, 0x5a, 0x11, 0x3c, 0x0d, 0x00, 0x02);

#define TEE_ALG_AES_CMAC	0x30000610
#define TEE_TYPE_AES		0xA0000010
#define TEE_ATTR_SECRET_VALUE	0xC0000000

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}
TEE_Result TA_OpenSessionEntryPoint(uint32_t t, TEE_Param p[4], void **s) { (void)t; (void)p; *s = 0; return 0; }
void TA_CloseSessionEntryPoint(void *s) { (void)s; }

TEE_Result TA_InvokeCommandEntryPoint(void *session, uint32_t cmd, uint32_t types, TEE_Param params[4])
{
	uint32_t key, state, algorithm = params[2].value.a;
	uint32_t type = algorithm == TEE_ALG_AES_CMAC ? TEE_TYPE_AES : 0xA0000000 | (algorithm & 0xFF);
	struct utee_attribute attr;
	uint64_t out_len = params[3].memref.size;
	TEE_Result res;

	(void)session;
	if (cmd != 0 || types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_INPUT,
						 TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_MEMREF_OUTPUT))
		return TEE_ERROR_BAD_PARAMETERS;
	res = utee_cryp_obj_alloc(type, params[0].memref.size * 8, &key);
	if (res)
		return res;
	attr.a = (uintptr_t)params[0].memref.buffer;
	attr.b = params[0].memref.size;
	attr.attribute_id = TEE_ATTR_SECRET_VALUE;
	res = utee_cryp_obj_populate(key, &attr, 1);
	if (!res)
		res = utee_cryp_state_alloc(algorithm, 4 /* TEE_MODE_MAC */, key, 0, &state);
	if (res)
		goto out;
	res = utee_hash_init(state, 0, 0);
	if (!res)
		res = utee_hash_update(state, params[1].memref.buffer, params[1].memref.size);
	if (!res)
		res = utee_hash_final(state, 0, 0, params[3].memref.buffer, &out_len);
	params[3].memref.size = out_len;
	utee_cryp_state_free(state);
out:
	utee_cryp_obj_close(key);
	return res;
}
