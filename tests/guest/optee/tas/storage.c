/*
 * storage: persistent objects. Object id in params[0] for every command.
 * 0 write: create (overwriting) with data params[1], close.
 * 1 read: open, read everything into params[1], close.
 * 2 delete.  3 rename to params[1].
 * 4 edit: open read/write, seek to params[1].value.a, write "XY", truncate to
 *   params[1].value.b, seek to 0, read everything into params[2], close.
 * 5 list: every object id of the TA, each preceded by its length byte, into params[1].
 * 6 conflict: open for reading twice without sharing; params[1].value.a gets the second open's result.
 * 7 keep a key: generate an AES-256 key and store it as the object's attributes.
 * 8 use a kept key: open the object, export its key into params[1], and encrypt the
 *   block params[2] under it (AES-ECB) into params[3].
 */
#include "tee_ta.h"

TA_HEADER(8192, 0, 0x2d1e0a16, 0x6b3c, 0x4e59, 0x8a, 0x01, 0x5a, 0x11, 0x3c, 0x0d, 0x00, 0x06);

#define PRIVATE		1
#define READ		0x1
#define WRITE		0x2
#define WRITE_META	0x4
#define OVERWRITE	0x400

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}
TEE_Result TA_OpenSessionEntryPoint(uint32_t t, TEE_Param p[4], void **s) { (void)t; (void)p; *s = 0; return 0; }
void TA_CloseSessionEntryPoint(void *s) { (void)s; }

#define MI TEE_PARAM_TYPE_MEMREF_INPUT
#define MO TEE_PARAM_TYPE_MEMREF_OUTPUT
static const uint32_t expected[] = {
	TEE_PARAM_TYPES(MI, MI, 0, 0), TEE_PARAM_TYPES(MI, MO, 0, 0), TEE_PARAM_TYPES(MI, 0, 0, 0),
	TEE_PARAM_TYPES(MI, MI, 0, 0), TEE_PARAM_TYPES(MI, TEE_PARAM_TYPE_VALUE_INPUT, MO, 0),
	TEE_PARAM_TYPES(MI, MO, 0, 0), TEE_PARAM_TYPES(MI, TEE_PARAM_TYPE_VALUE_OUTPUT, 0, 0),
	TEE_PARAM_TYPES(MI, 0, 0, 0), TEE_PARAM_TYPES(MI, MO, MI, MO),
};

static TEE_Result read_all(uint32_t obj, TEE_Param *out)
{
	uint64_t count = 0;
	TEE_Result res = utee_storage_obj_read(obj, out->memref.buffer, out->memref.size, &count);
	out->memref.size = count;
	return res;
}

TEE_Result TA_InvokeCommandEntryPoint(void *session, uint32_t cmd, uint32_t types, TEE_Param params[4])
{
	void *id = params[0].memref.buffer;
	size_t id_len = params[0].memref.size;
	uint32_t obj = 0, other, list;
	TEE_Result res;

	(void)session;
	if (cmd >= sizeof(expected) / sizeof(expected[0]) || types != expected[cmd])
		return TEE_ERROR_BAD_PARAMETERS;
	switch (cmd) {
	case 0:
		res = utee_storage_obj_create(PRIVATE, id, id_len, READ | WRITE | WRITE_META | OVERWRITE, 0,
					      params[1].memref.buffer, params[1].memref.size, &obj);
		break;
	case 1:
		res = utee_storage_obj_open(PRIVATE, id, id_len, READ, &obj);
		if (!res)
			res = read_all(obj, &params[1]);
		break;
	case 2:
		res = utee_storage_obj_open(PRIVATE, id, id_len, READ | WRITE_META, &obj);
		if (!res)
			res = utee_storage_obj_del(obj);
		return res; /* a deleted object's handle is closed with it */
	case 3:
		res = utee_storage_obj_open(PRIVATE, id, id_len, READ | WRITE_META, &obj);
		if (!res)
			res = utee_storage_obj_rename(obj, params[1].memref.buffer, params[1].memref.size);
		break;
	case 4:
		res = utee_storage_obj_open(PRIVATE, id, id_len, READ | WRITE, &obj);
		if (res)
			return res;
		res = utee_storage_obj_seek(obj, params[1].value.a, 0);
		if (!res)
			res = utee_storage_obj_write(obj, "XY", 2);
		if (!res)
			res = utee_storage_obj_trunc(obj, params[1].value.b);
		if (!res)
			res = utee_storage_obj_seek(obj, 0, 0);
		if (!res)
			res = read_all(obj, &params[2]);
		break;
	case 5: {
		unsigned char *out = params[1].memref.buffer, name[64];
		size_t used = 0;
		uint64_t len;
		struct utee_object_info info;

		res = utee_storage_alloc_enum(&list);
		if (res)
			return res;
		res = utee_storage_start_enum(list, PRIVATE);
		while (!res) {
			len = sizeof(name);
			res = utee_storage_next_enum(list, &info, name, &len);
			if (res)
				break;
			if (used + 1 + len > params[1].memref.size) {
				res = TEE_ERROR_SHORT_BUFFER;
				break;
			}
			out[used++] = (unsigned char)len;
			memcpy(out + used, name, len);
			used += len;
		}
		utee_storage_free_enum(list);
		params[1].memref.size = used;
		return res == TEE_ERROR_ITEM_NOT_FOUND ? TEE_SUCCESS : res;
	}
	case 6:
		res = utee_storage_obj_open(PRIVATE, id, id_len, READ, &obj);
		if (res)
			return res;
		params[1].value.a = utee_storage_obj_open(PRIVATE, id, id_len, READ, &other);
		break;
	case 7: {
		uint32_t key;

		res = utee_cryp_obj_alloc(0xA0000010 /* TEE_TYPE_AES */, 256, &key);
		if (!res)
			res = utee_cryp_obj_generate_key(key, 256, 0, 0);
		if (!res)
			res = utee_storage_obj_create(PRIVATE, id, id_len, READ | WRITE | WRITE_META | OVERWRITE, key,
						      0, 0, &obj);
		utee_cryp_obj_close(key);
		break;
	}
	case 8: {
		uint32_t state;
		uint64_t len = params[1].memref.size, out = params[3].memref.size;

		res = utee_storage_obj_open(PRIVATE, id, id_len, READ, &obj);
		if (res)
			return res;
		res = utee_cryp_obj_get_attr(obj, 0xC0000000 /* TEE_ATTR_SECRET_VALUE */, params[1].memref.buffer,
					     &len);
		params[1].memref.size = len;
		if (!res)
			res = utee_cryp_state_alloc(0x10000010 /* TEE_ALG_AES_ECB_NOPAD */, 0, obj, 0, &state);
		if (res)
			break;
		res = utee_cipher_init(state, 0, 0);
		if (!res)
			res = utee_cipher_final(state, params[2].memref.buffer, params[2].memref.size,
						params[3].memref.buffer, &out);
		params[3].memref.size = out;
		utee_cryp_state_free(state);
		break;
	}
	default:
		return TEE_ERROR_BAD_PARAMETERS;
	}
	if (obj)
		utee_cryp_obj_close(obj);
	return res;
}
