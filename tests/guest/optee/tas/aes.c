/*
 * aes: command 0 runs a cipher (ECB/CBC/CTR/XTS: algorithm and mode in params[2].value)
 * with key params[0] (XTS: two keys, one after the other) and IV params[1] over params[3]
 * in place, in two calls (update with the first whole blocks, final with the rest).
 * Commands 1-4: AES-GCM encrypt/decrypt, AES-CCM encrypt/decrypt with a 256-bit key and
 * the nonce after it in params[0], AAD params[1], from params[2] into params[3]; the
 * 16-byte tag follows the ciphertext (written by encryption, read by decryption).
 */
#include "tee_ta.h"

TA_HEADER(8192, 0, 0x2d1e0a13, 0x6b3c, 0x4e59, 0x8a, 0x01, 0x5a, 0x11, 0x3c, 0x0d, 0x00, 0x03);

#define TEE_TYPE_AES		0xA0000010
#define TEE_ATTR_SECRET_VALUE	0xC0000000
#define TEE_ALG_AES_XTS		0x10000410
#define TEE_ALG_AES_CCM		0x40000710
#define TEE_ALG_AES_GCM		0x40000810
#define TAG			16

static unsigned char scratch[65536];

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}
TEE_Result TA_OpenSessionEntryPoint(uint32_t t, TEE_Param p[4], void **s) { (void)t; (void)p; *s = 0; return 0; }
void TA_CloseSessionEntryPoint(void *s) { (void)s; }

static TEE_Result key_object(const void *key, size_t len, uint32_t *obj)
{
	struct utee_attribute attr = { (uintptr_t)key, len, TEE_ATTR_SECRET_VALUE };
	TEE_Result res = utee_cryp_obj_alloc(TEE_TYPE_AES, len * 8, obj);
	if (!res)
		res = utee_cryp_obj_populate(*obj, &attr, 1);
	return res;
}

static TEE_Result cipher(TEE_Param params[4])
{
	uint32_t algorithm = params[2].value.a, mode = params[2].value.b;
	int xts = algorithm == TEE_ALG_AES_XTS;
	size_t key_len = params[0].memref.size / (xts ? 2 : 1);
	size_t len = params[3].memref.size, first = len / 32 * 16;
	uint32_t key1 = 0, key2 = 0, state = 0;
	uint64_t out1 = sizeof(scratch), out2;
	TEE_Result res;

	if (len > sizeof(scratch))
		return TEE_ERROR_BAD_PARAMETERS;
	res = key_object(params[0].memref.buffer, key_len, &key1);
	if (!res && xts)
		res = key_object((char *)params[0].memref.buffer + key_len, key_len, &key2);
	if (!res)
		res = utee_cryp_state_alloc(algorithm, mode, key1, key2, &state);
	if (!res)
		res = utee_cipher_init(state, params[1].memref.buffer, params[1].memref.size);
	if (!res)
		res = utee_cipher_update(state, params[3].memref.buffer, first, scratch, &out1);
	out2 = sizeof(scratch) - out1;
	if (!res)
		res = utee_cipher_final(state, (char *)params[3].memref.buffer + first, len - first, scratch + out1, &out2);
	if (!res) {
		memcpy(params[3].memref.buffer, scratch, out1 + out2);
		params[3].memref.size = out1 + out2;
	}
	if (state)
		utee_cryp_state_free(state);
	utee_cryp_obj_close(key1);
	if (key2)
		utee_cryp_obj_close(key2);
	return res;
}

#define AE_KEY 32

static TEE_Result authenticated(uint32_t algorithm, int decrypt, TEE_Param params[4])
{
	const char *in = params[2].memref.buffer;
	size_t total = params[2].memref.size, len = decrypt ? total - TAG : total;
	uint32_t key = 0, state = 0;
	uint64_t out1 = sizeof(scratch), out2, tag_len = TAG;
	unsigned char tag[TAG];
	TEE_Result res;

	if ((decrypt && total < TAG) || total > sizeof(scratch) || params[0].memref.size <= AE_KEY)
		return TEE_ERROR_BAD_PARAMETERS;
	if (params[3].memref.size < len + (decrypt ? 0 : TAG)) {
		params[3].memref.size = len + (decrypt ? 0 : TAG);
		return TEE_ERROR_SHORT_BUFFER;
	}
	if (decrypt)
		memcpy(tag, in + len, TAG);
	res = key_object(params[0].memref.buffer, AE_KEY, &key);
	if (!res)
		res = utee_cryp_state_alloc(algorithm, decrypt, key, 0, &state);
	if (!res)
		res = utee_authenc_init(state, (char *)params[0].memref.buffer + AE_KEY, params[0].memref.size - AE_KEY,
					TAG * 8, params[1].memref.size, len);
	if (!res)
		res = utee_authenc_update_aad(state, params[1].memref.buffer, params[1].memref.size);
	if (!res)
		res = utee_authenc_update_payload(state, in, len / 2, scratch, &out1);
	out2 = sizeof(scratch) - out1;
	if (!res && decrypt)
		res = utee_authenc_dec_final(state, in + len / 2, len - len / 2, scratch + out1, &out2, tag, TAG);
	else if (!res)
		res = utee_authenc_enc_final(state, in + len / 2, len - len / 2, scratch + out1, &out2, tag, &tag_len);
	if (!res) {
		memcpy(params[3].memref.buffer, scratch, out1 + out2);
		if (!decrypt)
			memcpy((char *)params[3].memref.buffer + out1 + out2, tag, TAG);
		params[3].memref.size = out1 + out2 + (decrypt ? 0 : TAG);
	}
	if (state)
		utee_cryp_state_free(state);
	utee_cryp_obj_close(key);
	return res;
}

TEE_Result TA_InvokeCommandEntryPoint(void *session, uint32_t cmd, uint32_t types, TEE_Param params[4])
{
	(void)session;
	if (cmd == 0 && types == TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_INPUT,
						 TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_MEMREF_INOUT))
		return cipher(params);
	if (cmd >= 1 && cmd <= 4 && types == TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_INPUT,
							      TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_OUTPUT))
		return authenticated(cmd <= 2 ? TEE_ALG_AES_GCM : TEE_ALG_AES_CCM, !(cmd & 1), params);
	return TEE_ERROR_BAD_PARAMETERS;
}
