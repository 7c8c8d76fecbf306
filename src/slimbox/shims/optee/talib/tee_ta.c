/* The entry function and utee system call wrappers of slimbox's TA library. */
#include "tee_ta.h"

#define ENTRY_OPEN_SESSION	0
#define ENTRY_CLOSE_SESSION	1
#define ENTRY_INVOKE_COMMAND	2
#define MAX_SESSIONS		16

long utee_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	register long r12 __asm__("r12") = a7;
	register long r13 __asm__("r13") = a8;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9), "r"(r12), "r"(r13)
			 : "rcx", "r11", "memory");
	return ret;
}

#define SC(nr, a1, a2, a3, a4, a5, a6, a7, a8) \
	((TEE_Result)utee_syscall(nr, (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5), \
				  (long)(a6), (long)(a7), (long)(a8)))

void utee_return(unsigned long ret) { (void)SC(0, ret, 0, 0, 0, 0, 0, 0, 0); for (;;) {} }
void utee_log(const void *buf, size_t len) { (void)SC(1, buf, len, 0, 0, 0, 0, 0, 0); }
void utee_panic(unsigned long code) { (void)SC(2, code, 0, 0, 0, 0, 0, 0, 0); for (;;) {} }
TEE_Result utee_get_property(unsigned long prop_set, unsigned long index, void *name, uint32_t *name_len,
			     void *buf, uint32_t *blen, uint32_t *prop_type)
{ return SC(3, prop_set, index, name, name_len, buf, blen, prop_type, 0); }
TEE_Result utee_get_property_name_to_index(unsigned long prop_set, const void *name, unsigned long name_len,
					   uint32_t *index)
{ return SC(4, prop_set, name, name_len, index, 0, 0, 0, 0); }
TEE_Result utee_check_access_rights(uint32_t flags, const void *buf, size_t len)
{ return SC(8, flags, buf, len, 0, 0, 0, 0, 0); }
TEE_Result utee_get_cancellation_flag(uint32_t *cancel) { return SC(9, cancel, 0, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_unmask_cancellation(uint32_t *old_mask) { return SC(10, old_mask, 0, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_mask_cancellation(uint32_t *old_mask) { return SC(11, old_mask, 0, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_wait(unsigned long timeout) { return SC(12, timeout, 0, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_get_time(unsigned long cat, TEE_Time *time) { return SC(13, cat, time, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_cryp_state_alloc(unsigned long algo, unsigned long mode, unsigned long key1, unsigned long key2,
				 uint32_t *state)
{ return SC(15, algo, mode, key1, key2, state, 0, 0, 0); }
TEE_Result utee_cryp_state_copy(unsigned long dst, unsigned long src) { return SC(16, dst, src, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_cryp_state_free(unsigned long state) { return SC(17, state, 0, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_hash_init(unsigned long state, const void *iv, size_t iv_len)
{ return SC(18, state, iv, iv_len, 0, 0, 0, 0, 0); }
TEE_Result utee_hash_update(unsigned long state, const void *chunk, size_t chunk_size)
{ return SC(19, state, chunk, chunk_size, 0, 0, 0, 0, 0); }
TEE_Result utee_hash_final(unsigned long state, const void *chunk, size_t chunk_size, void *hash,
			   uint64_t *hash_len)
{ return SC(20, state, chunk, chunk_size, hash, hash_len, 0, 0, 0); }
TEE_Result utee_cipher_init(unsigned long state, const void *iv, size_t iv_len)
{ return SC(21, state, iv, iv_len, 0, 0, 0, 0, 0); }
TEE_Result utee_cipher_update(unsigned long state, const void *src, size_t src_len, void *dest, uint64_t *dest_len)
{ return SC(22, state, src, src_len, dest, dest_len, 0, 0, 0); }
TEE_Result utee_cipher_final(unsigned long state, const void *src, size_t src_len, void *dest, uint64_t *dest_len)
{ return SC(23, state, src, src_len, dest, dest_len, 0, 0, 0); }
TEE_Result utee_cryp_obj_get_info(unsigned long obj, struct utee_object_info *info)
{ return SC(24, obj, info, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_cryp_obj_get_attr(unsigned long obj, unsigned long attr_id, void *buffer, uint64_t *size)
{ return SC(26, obj, attr_id, buffer, size, 0, 0, 0, 0); }
TEE_Result utee_cryp_obj_alloc(unsigned long type, unsigned long max_size, uint32_t *obj)
{ return SC(27, type, max_size, obj, 0, 0, 0, 0, 0); }
TEE_Result utee_cryp_obj_close(unsigned long obj) { return SC(28, obj, 0, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_cryp_obj_reset(unsigned long obj) { return SC(29, obj, 0, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_cryp_obj_populate(unsigned long obj, struct utee_attribute *attrs, unsigned long attr_count)
{ return SC(30, obj, attrs, attr_count, 0, 0, 0, 0, 0); }
TEE_Result utee_cryp_obj_copy(unsigned long dst, unsigned long src) { return SC(31, dst, src, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_cryp_obj_restrict_usage(unsigned long obj, unsigned long usage)
{ return SC(25, obj, usage, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_cryp_obj_generate_key(unsigned long obj, unsigned long key_size,
				      const struct utee_attribute *params, unsigned long param_count)
{ return SC(54, obj, key_size, params, param_count, 0, 0, 0, 0); }
TEE_Result utee_cryp_derive_key(unsigned long state, const struct utee_attribute *params,
				unsigned long param_count, unsigned long derived_key)
{ return SC(32, state, params, param_count, derived_key, 0, 0, 0, 0); }
TEE_Result utee_cryp_random_number_generate(void *buf, size_t blen) { return SC(33, buf, blen, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_authenc_init(unsigned long state, const void *nonce, size_t nonce_len, size_t tag_len,
			     size_t aad_len, size_t payload_len)
{ return SC(34, state, nonce, nonce_len, tag_len, aad_len, payload_len, 0, 0); }
TEE_Result utee_authenc_update_aad(unsigned long state, const void *aad, size_t aad_len)
{ return SC(35, state, aad, aad_len, 0, 0, 0, 0, 0); }
TEE_Result utee_authenc_update_payload(unsigned long state, const void *src, size_t src_len, void *dest,
				       uint64_t *dest_len)
{ return SC(36, state, src, src_len, dest, dest_len, 0, 0, 0); }
TEE_Result utee_authenc_enc_final(unsigned long state, const void *src, size_t src_len, void *dest,
				  uint64_t *dest_len, void *tag, uint64_t *tag_len)
{ return SC(37, state, src, src_len, dest, dest_len, tag, tag_len, 0); }
TEE_Result utee_authenc_dec_final(unsigned long state, const void *src, size_t src_len, void *dest,
				  uint64_t *dest_len, const void *tag, size_t tag_len)
{ return SC(38, state, src, src_len, dest, dest_len, tag, tag_len, 0); }
TEE_Result utee_asymm_operate(unsigned long state, const struct utee_attribute *params, unsigned long num_params,
			      const void *src, size_t src_len, void *dest, uint64_t *dest_len)
{ return SC(39, state, params, num_params, src, src_len, dest, dest_len, 0); }
TEE_Result utee_asymm_verify(unsigned long state, const struct utee_attribute *params, unsigned long num_params,
			     const void *data, size_t data_len, const void *sig, size_t sig_len)
{ return SC(40, state, params, num_params, data, data_len, sig, sig_len, 0); }
TEE_Result utee_storage_obj_open(unsigned long storage_id, const void *object_id, size_t object_id_len,
				 unsigned long flags, uint32_t *obj)
{ return SC(41, storage_id, object_id, object_id_len, flags, obj, 0, 0, 0); }
TEE_Result utee_storage_obj_create(unsigned long storage_id, const void *object_id, size_t object_id_len,
				   unsigned long flags, unsigned long attr, const void *data, size_t len, uint32_t *obj)
{ return SC(42, storage_id, object_id, object_id_len, flags, attr, data, len, obj); }
TEE_Result utee_storage_obj_del(unsigned long obj) { return SC(43, obj, 0, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_storage_obj_rename(unsigned long obj, const void *new_id, size_t new_id_len)
{ return SC(44, obj, new_id, new_id_len, 0, 0, 0, 0, 0); }
TEE_Result utee_storage_alloc_enum(uint32_t *obj_enum) { return SC(45, obj_enum, 0, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_storage_free_enum(unsigned long obj_enum) { return SC(46, obj_enum, 0, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_storage_reset_enum(unsigned long obj_enum) { return SC(47, obj_enum, 0, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_storage_start_enum(unsigned long obj_enum, unsigned long storage_id)
{ return SC(48, obj_enum, storage_id, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_storage_next_enum(unsigned long obj_enum, struct utee_object_info *info, void *obj_id,
				  uint64_t *len)
{ return SC(49, obj_enum, info, obj_id, len, 0, 0, 0, 0); }
TEE_Result utee_storage_obj_read(unsigned long obj, void *data, size_t len, uint64_t *count)
{ return SC(50, obj, data, len, count, 0, 0, 0, 0); }
TEE_Result utee_storage_obj_write(unsigned long obj, const void *data, size_t len)
{ return SC(51, obj, data, len, 0, 0, 0, 0, 0); }
TEE_Result utee_storage_obj_trunc(unsigned long obj, size_t len) { return SC(52, obj, len, 0, 0, 0, 0, 0, 0); }
TEE_Result utee_storage_obj_seek(unsigned long obj, int32_t offset, unsigned long whence)
{ return SC(53, obj, offset, whence, 0, 0, 0, 0, 0); }

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

void ta_log(const char *text) { utee_log(text, strlen(text)); }

/*
 * The instance's sessions: the id the TEE gave each, and the context the TA returned.
 * External, not static: the state must outlive an entry, and each entry ends in a
 * noreturn syscall, after which the compiler would drop stores to private statics.
 */
struct { unsigned long id; void *context; int used; } __ta_sessions[MAX_SESSIONS];
int __ta_instance_created;

static int session_slot(unsigned long id)
{
	for (int i = 0; i < MAX_SESSIONS; i++)
		if (__ta_sessions[i].used && __ta_sessions[i].id == id)
			return i;
	return -1;
}

static int open_sessions(void)
{
	int n = 0;
	for (int i = 0; i < MAX_SESSIONS; i++)
		n += __ta_sessions[i].used;
	return n;
}

static void params_from_utee(const struct utee_params *up, TEE_Param params[4])
{
	for (int i = 0; i < 4; i++) {
		uint32_t type = TEE_PARAM_TYPE_GET(up->types, i);
		if (type >= TEE_PARAM_TYPE_MEMREF_INPUT) {
			params[i].memref.buffer = (void *)(uintptr_t)up->vals[2 * i];
			params[i].memref.size = up->vals[2 * i + 1];
		} else {
			params[i].value.a = (uint32_t)up->vals[2 * i];
			params[i].value.b = (uint32_t)up->vals[2 * i + 1];
		}
	}
}

static void params_to_utee(struct utee_params *up, const TEE_Param params[4])
{
	for (int i = 0; i < 4; i++) {
		uint32_t type = TEE_PARAM_TYPE_GET(up->types, i);
		if (type == TEE_PARAM_TYPE_VALUE_OUTPUT || type == TEE_PARAM_TYPE_VALUE_INOUT) {
			up->vals[2 * i] = params[i].value.a;
			up->vals[2 * i + 1] = params[i].value.b;
		} else if (type == TEE_PARAM_TYPE_MEMREF_OUTPUT || type == TEE_PARAM_TYPE_MEMREF_INOUT) {
			up->vals[2 * i + 1] = params[i].memref.size;
		}
	}
}

static TEE_Result open_session(unsigned long id, uint32_t types, TEE_Param params[4])
{
	TEE_Result res;
	int slot = -1;
	void *context = 0;

	for (int i = 0; i < MAX_SESSIONS && slot < 0; i++)
		if (!__ta_sessions[i].used)
			slot = i;
	if (slot < 0)
		return 0xFFFF000D; /* TEE_ERROR_BUSY */
	if (!__ta_instance_created) {
		res = TA_CreateEntryPoint();
		if (res != TEE_SUCCESS)
			return res;
		__ta_instance_created = 1;
	}
	res = TA_OpenSessionEntryPoint(types, params, &context);
	if (res == TEE_SUCCESS) {
		__ta_sessions[slot].id = id;
		__ta_sessions[slot].context = context;
		__ta_sessions[slot].used = 1;
	} else if (!open_sessions()) {
		TA_DestroyEntryPoint();
		__ta_instance_created = 0;
	}
	return res;
}

static TEE_Result close_session(unsigned long id)
{
	int slot = session_slot(id);
	if (slot < 0)
		return TEE_ERROR_BAD_PARAMETERS;
	TA_CloseSessionEntryPoint(__ta_sessions[slot].context);
	__ta_sessions[slot].used = 0;
	if (!open_sessions()) {
		TA_DestroyEntryPoint();
		__ta_instance_created = 0;
	}
	return TEE_SUCCESS;
}

/* The TA's ELF entry: the TEE enters here for every request, with rsp aligned as after a call */
void __ta_entry(unsigned long func, unsigned long session_id, struct utee_params *up, unsigned long cmd_id)
{
	TEE_Param params[4];
	TEE_Result res;
	uint32_t types = (uint32_t)up->types;
	int slot;

	params_from_utee(up, params);
	switch (func) {
	case ENTRY_OPEN_SESSION:
		res = open_session(session_id, types, params);
		break;
	case ENTRY_CLOSE_SESSION:
		res = close_session(session_id);
		break;
	case ENTRY_INVOKE_COMMAND:
		slot = session_slot(session_id);
		res = slot < 0 ? TEE_ERROR_BAD_PARAMETERS
			       : TA_InvokeCommandEntryPoint(__ta_sessions[slot].context, (uint32_t)cmd_id, types, params);
		break;
	default:
		res = TEE_ERROR_NOT_SUPPORTED;
	}
	params_to_utee(up, params);
	utee_return(res);
}
