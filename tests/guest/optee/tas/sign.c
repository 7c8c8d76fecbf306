/*
 * sign: RSA and elliptic curves.
 * 0 RSA sign: generate a key of params[0].value.b bits, sign the digest params[1] with
 *   algorithm params[0].value.a into params[2], verify it, export the modulus into params[3].
 * 1 ECDSA sign: generate a key on curve params[0].value.b, sign params[1] with algorithm
 *   params[0].value.a into params[2] (r||s), verify it, export X||Y into params[3].
 * 2 RSA verify: modulus params[0] (exponent 65537), digest params[1], signature params[2],
 *   algorithm params[3].value.a; the result is the verification's.
 * 3 RSA encrypt: modulus params[0], plaintext params[1], ciphertext params[2], algorithm params[3].value.a.
 * 4 ECDH on P-256: peer X||Y params[0], own X||Y params[1], shared secret params[2].
 * 5 ECDSA verify: X||Y params[0], digest params[1], signature params[2], algorithm and curve params[3].
 */
#include "tee_ta.h"

TA_HEADER(16384, 0, 0x2d1e0a15, 0x6b3c, 0x4e59, 0x8a, 0x01, 0x5a, 0x11, 0x3c, 0x0d, 0x00, 0x05);

#define TYPE_RSA_PUBLIC		0xA0000030
#define TYPE_RSA_KEYPAIR	0xA1000030
#define TYPE_ECDSA_PUBLIC	0xA0000041
#define TYPE_ECDSA_KEYPAIR	0xA1000041
#define TYPE_ECDH_KEYPAIR	0xA1000042
#define TYPE_GENERIC_SECRET	0xA0000000
#define ATTR_SECRET_VALUE	0xC0000000
#define ATTR_RSA_MODULUS	0xD0000130
#define ATTR_RSA_PUBLIC_EXPONENT 0xD0000230
#define ATTR_ECC_X		0xD0000141
#define ATTR_ECC_Y		0xD0000241
#define ATTR_ECC_CURVE		0xF0000441
#define ALG_ECDH		0x80000042
#define MODE_ENCRYPT 0
#define MODE_SIGN 2
#define MODE_VERIFY 3
#define MODE_DERIVE 6

static const unsigned char exponent[] = { 0x01, 0x00, 0x01 };

#define VI TEE_PARAM_TYPE_VALUE_INPUT
#define MI TEE_PARAM_TYPE_MEMREF_INPUT
#define MO TEE_PARAM_TYPE_MEMREF_OUTPUT
static const uint32_t expected[] = {
	TEE_PARAM_TYPES(VI, MI, MO, MO), TEE_PARAM_TYPES(VI, MI, MO, MO), TEE_PARAM_TYPES(MI, MI, MI, VI),
	TEE_PARAM_TYPES(MI, MI, MO, VI), TEE_PARAM_TYPES(MI, MO, MO, 0), TEE_PARAM_TYPES(MI, MI, MI, VI),
};

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}
TEE_Result TA_OpenSessionEntryPoint(uint32_t t, TEE_Param p[4], void **s) { (void)t; (void)p; *s = 0; return 0; }
void TA_CloseSessionEntryPoint(void *s) { (void)s; }

static void ref(struct utee_attribute *attr, uint32_t id, const void *buf, size_t len)
{
	attr->a = (uintptr_t)buf;
	attr->b = len;
	attr->attribute_id = id;
}

static void value(struct utee_attribute *attr, uint32_t id, uint32_t a)
{
	attr->a = a;
	attr->b = 0;
	attr->attribute_id = id;
}

static TEE_Result sign_and_verify(uint32_t algorithm, uint32_t key, TEE_Param params[4])
{
	uint32_t signer, verifier;
	uint64_t len = params[2].memref.size;
	TEE_Result res = utee_cryp_state_alloc(algorithm, MODE_SIGN, key, 0, &signer);
	if (res)
		return res;
	res = utee_asymm_operate(signer, 0, 0, params[1].memref.buffer, params[1].memref.size,
				 params[2].memref.buffer, &len);
	utee_cryp_state_free(signer);
	params[2].memref.size = len;
	if (res)
		return res;
	res = utee_cryp_state_alloc(algorithm, MODE_VERIFY, key, 0, &verifier);
	if (res)
		return res;
	res = utee_asymm_verify(verifier, 0, 0, params[1].memref.buffer, params[1].memref.size,
				params[2].memref.buffer, len);
	utee_cryp_state_free(verifier);
	return res;
}

static TEE_Result export(uint32_t key, uint32_t id, void *out, uint64_t *len)
{
	return utee_cryp_obj_get_attr(key, id, out, len);
}

static TEE_Result ec_point(uint32_t key, TEE_Param *out, size_t coordinate)
{
	uint64_t x_len = coordinate, y_len = coordinate;
	TEE_Result res;

	if (out->memref.size < 2 * coordinate)
		return TEE_ERROR_SHORT_BUFFER;
	res = export(key, ATTR_ECC_X, out->memref.buffer, &x_len);
	if (!res)
		res = export(key, ATTR_ECC_Y, (char *)out->memref.buffer + coordinate, &y_len);
	out->memref.size = x_len + y_len;
	return res;
}

static TEE_Result rsa_public(TEE_Param *modulus, uint32_t *key)
{
	struct utee_attribute attrs[2];
	TEE_Result res = utee_cryp_obj_alloc(TYPE_RSA_PUBLIC, modulus->memref.size * 8, key);
	if (res)
		return res;
	ref(&attrs[0], ATTR_RSA_MODULUS, modulus->memref.buffer, modulus->memref.size);
	ref(&attrs[1], ATTR_RSA_PUBLIC_EXPONENT, exponent, sizeof(exponent));
	return utee_cryp_obj_populate(*key, attrs, 2);
}

static size_t curve_bytes(uint32_t curve)
{
	static const size_t sizes[] = { 0, 24, 28, 32, 48, 66 };
	return curve < 6 ? sizes[curve] : 0;
}

static size_t curve_bits(uint32_t curve)
{
	static const size_t bits[] = { 0, 192, 224, 256, 384, 521 };
	return curve < 6 ? bits[curve] : 0;
}

TEE_Result TA_InvokeCommandEntryPoint(void *session, uint32_t cmd, uint32_t types, TEE_Param params[4])
{
	struct utee_attribute attrs[3];
	uint32_t key = 0, state = 0, secret = 0, curve;
	uint64_t len;
	TEE_Result res;

	(void)session;
	if (cmd >= sizeof(expected) / sizeof(expected[0]) || types != expected[cmd])
		return TEE_ERROR_BAD_PARAMETERS;
	switch (cmd) {
	case 0:
		res = utee_cryp_obj_alloc(TYPE_RSA_KEYPAIR, params[0].value.b, &key);
		if (!res)
			res = utee_cryp_obj_generate_key(key, params[0].value.b, 0, 0);
		if (!res)
			res = sign_and_verify(params[0].value.a, key, params);
		len = params[3].memref.size;
		if (!res)
			res = export(key, ATTR_RSA_MODULUS, params[3].memref.buffer, &len);
		params[3].memref.size = len;
		break;
	case 1:
		curve = params[0].value.b;
		value(&attrs[0], ATTR_ECC_CURVE, curve);
		res = utee_cryp_obj_alloc(TYPE_ECDSA_KEYPAIR, curve_bits(curve), &key);
		if (!res)
			res = utee_cryp_obj_generate_key(key, curve_bits(curve), attrs, 1);
		if (!res)
			res = sign_and_verify(params[0].value.a, key, params);
		if (!res)
			res = ec_point(key, &params[3], curve_bytes(curve));
		break;
	case 2:
		res = rsa_public(&params[0], &key);
		if (!res)
			res = utee_cryp_state_alloc(params[3].value.a, MODE_VERIFY, key, 0, &state);
		if (!res)
			res = utee_asymm_verify(state, 0, 0, params[1].memref.buffer, params[1].memref.size,
						params[2].memref.buffer, params[2].memref.size);
		break;
	case 3:
		res = rsa_public(&params[0], &key);
		if (!res)
			res = utee_cryp_state_alloc(params[3].value.a, MODE_ENCRYPT, key, 0, &state);
		len = params[2].memref.size;
		if (!res)
			res = utee_asymm_operate(state, 0, 0, params[1].memref.buffer, params[1].memref.size,
						 params[2].memref.buffer, &len);
		params[2].memref.size = len;
		break;
	case 4:
		value(&attrs[0], ATTR_ECC_CURVE, 3);
		res = utee_cryp_obj_alloc(TYPE_ECDH_KEYPAIR, 256, &key);
		if (!res)
			res = utee_cryp_obj_generate_key(key, 256, attrs, 1);
		if (!res)
			res = ec_point(key, &params[1], 32);
		if (!res)
			res = utee_cryp_obj_alloc(TYPE_GENERIC_SECRET, 256, &secret);
		if (!res)
			res = utee_cryp_state_alloc(ALG_ECDH, MODE_DERIVE, key, 0, &state);
		ref(&attrs[0], ATTR_ECC_X, params[0].memref.buffer, 32);
		ref(&attrs[1], ATTR_ECC_Y, (char *)params[0].memref.buffer + 32, 32);
		if (!res)
			res = utee_cryp_derive_key(state, attrs, 2, secret);
		len = params[2].memref.size;
		if (!res)
			res = export(secret, ATTR_SECRET_VALUE, params[2].memref.buffer, &len);
		params[2].memref.size = len;
		break;
	case 5:
		curve = params[3].value.b;
		value(&attrs[0], ATTR_ECC_CURVE, curve);
		ref(&attrs[1], ATTR_ECC_X, params[0].memref.buffer, curve_bytes(curve));
		ref(&attrs[2], ATTR_ECC_Y, (char *)params[0].memref.buffer + curve_bytes(curve), curve_bytes(curve));
		res = utee_cryp_obj_alloc(TYPE_ECDSA_PUBLIC, curve_bits(curve), &key);
		if (!res)
			res = utee_cryp_obj_populate(key, attrs, 3);
		if (!res)
			res = utee_cryp_state_alloc(params[3].value.a, MODE_VERIFY, key, 0, &state);
		if (!res)
			res = utee_asymm_verify(state, 0, 0, params[1].memref.buffer, params[1].memref.size,
						params[2].memref.buffer, params[2].memref.size);
		break;
	default:
		return TEE_ERROR_BAD_PARAMETERS;
	}
	if (state)
		utee_cryp_state_free(state);
	if (key)
		utee_cryp_obj_close(key);
	if (secret)
		utee_cryp_obj_close(secret);
	return res;
}
