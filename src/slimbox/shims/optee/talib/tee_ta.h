/*
 * The TA library of slimbox's OP-TEE personality: the GlobalPlatform entry points a TA
 * implements, the entry function that dispatches to them, and one wrapper per OP-TEE
 * utee system call. x86-64 convention: the utee number in rax, arguments in rdi, rsi,
 * rdx, r10, r8, r9, r12, r13 (up to eight, as OP-TEE allows), the TEE_Result in rax.
 */
#ifndef SLIMBOX_TEE_TA_H
#define SLIMBOX_TEE_TA_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t TEE_Result;
typedef struct { uint32_t timeLow; uint16_t timeMid; uint16_t timeHiAndVersion; uint8_t clockSeqAndNode[8]; } TEE_UUID;
typedef union {
	struct { void *buffer; size_t size; } memref;
	struct { uint32_t a, b; } value;
} TEE_Param;
typedef struct { uint32_t seconds, millis; } TEE_Time;

struct utee_params { uint64_t types; uint64_t vals[8]; };
struct utee_attribute { uint64_t a; uint64_t b; uint32_t attribute_id; };
struct utee_object_info {
	uint32_t obj_type, obj_size, max_obj_size, obj_usage, data_size, data_pos, handle_flags;
};
struct ta_head { TEE_UUID uuid; uint32_t stack_size; uint32_t flags; uint64_t depr_entry; };

#define TEE_SUCCESS			0x00000000
#define TEE_ERROR_GENERIC		0xFFFF0000
#define TEE_ERROR_BAD_PARAMETERS	0xFFFF0006
#define TEE_ERROR_ITEM_NOT_FOUND	0xFFFF0008
#define TEE_ERROR_NOT_SUPPORTED		0xFFFF000A
#define TEE_ERROR_SHORT_BUFFER		0xFFFF0010
#define TEE_ERROR_SIGNATURE_INVALID	0xFFFF3072
#define TEE_ERROR_MAC_INVALID		0xFFFF3071

#define TEE_PARAM_TYPE_NONE		0
#define TEE_PARAM_TYPE_VALUE_INPUT	1
#define TEE_PARAM_TYPE_VALUE_OUTPUT	2
#define TEE_PARAM_TYPE_VALUE_INOUT	3
#define TEE_PARAM_TYPE_MEMREF_INPUT	5
#define TEE_PARAM_TYPE_MEMREF_OUTPUT	6
#define TEE_PARAM_TYPE_MEMREF_INOUT	7
#define TEE_PARAM_TYPES(t0, t1, t2, t3) ((t0) | ((t1) << 4) | ((t2) << 8) | ((t3) << 12))
#define TEE_PARAM_TYPE_GET(t, i) (((t) >> ((i) * 4)) & 0xF)

#define TA_FLAG_SINGLE_INSTANCE		(1u << 2)
#define TA_FLAG_MULTI_SESSION		(1u << 3)
#define TA_FLAG_INSTANCE_KEEP_ALIVE	(1u << 4)

/* The TA's header: TA_HEADER(stack size, flags, time_low, time_mid, time_hi, then 8 node bytes) */
#define TA_HEADER(stack, flags, low, mid, hi, ...) \
	const struct ta_head ta_head __attribute__((section(".ta_head"), used)) = \
		{ { low, mid, hi, { __VA_ARGS__ } }, stack, flags, 0 }

/* What a TA implements (GlobalPlatform TEE Internal Core API, section 4.3) */
TEE_Result TA_CreateEntryPoint(void);
void TA_DestroyEntryPoint(void);
TEE_Result TA_OpenSessionEntryPoint(uint32_t types, TEE_Param params[4], void **session);
void TA_CloseSessionEntryPoint(void *session);
TEE_Result TA_InvokeCommandEntryPoint(void *session, uint32_t cmd, uint32_t types, TEE_Param params[4]);

/* utee system calls, by OP-TEE's numbers */
void utee_return(unsigned long ret) __attribute__((noreturn));
void utee_log(const void *buf, size_t len);
void utee_panic(unsigned long code) __attribute__((noreturn));
TEE_Result utee_get_property(unsigned long prop_set, unsigned long index, void *name, uint32_t *name_len,
			     void *buf, uint32_t *blen, uint32_t *prop_type);
TEE_Result utee_get_property_name_to_index(unsigned long prop_set, const void *name, unsigned long name_len,
					   uint32_t *index);
TEE_Result utee_check_access_rights(uint32_t flags, const void *buf, size_t len);
TEE_Result utee_get_cancellation_flag(uint32_t *cancel);
TEE_Result utee_unmask_cancellation(uint32_t *old_mask);
TEE_Result utee_mask_cancellation(uint32_t *old_mask);
TEE_Result utee_wait(unsigned long timeout);
TEE_Result utee_get_time(unsigned long cat, TEE_Time *time);
TEE_Result utee_cryp_state_alloc(unsigned long algo, unsigned long mode, unsigned long key1, unsigned long key2,
				 uint32_t *state);
TEE_Result utee_cryp_state_copy(unsigned long dst, unsigned long src);
TEE_Result utee_cryp_state_free(unsigned long state);
TEE_Result utee_hash_init(unsigned long state, const void *iv, size_t iv_len);
TEE_Result utee_hash_update(unsigned long state, const void *chunk, size_t chunk_size);
TEE_Result utee_hash_final(unsigned long state, const void *chunk, size_t chunk_size, void *hash,
			   uint64_t *hash_len);
TEE_Result utee_cipher_init(unsigned long state, const void *iv, size_t iv_len);
TEE_Result utee_cipher_update(unsigned long state, const void *src, size_t src_len, void *dest,
			      uint64_t *dest_len);
TEE_Result utee_cipher_final(unsigned long state, const void *src, size_t src_len, void *dest,
			     uint64_t *dest_len);
TEE_Result utee_cryp_obj_get_info(unsigned long obj, struct utee_object_info *info);
TEE_Result utee_cryp_obj_get_attr(unsigned long obj, unsigned long attr_id, void *buffer, uint64_t *size);
TEE_Result utee_cryp_obj_alloc(unsigned long type, unsigned long max_size, uint32_t *obj);
TEE_Result utee_cryp_obj_close(unsigned long obj);
TEE_Result utee_cryp_obj_reset(unsigned long obj);
TEE_Result utee_cryp_obj_populate(unsigned long obj, struct utee_attribute *attrs, unsigned long attr_count);
TEE_Result utee_cryp_obj_copy(unsigned long dst, unsigned long src);
TEE_Result utee_cryp_obj_restrict_usage(unsigned long obj, unsigned long usage);
TEE_Result utee_cryp_obj_generate_key(unsigned long obj, unsigned long key_size,
				      const struct utee_attribute *params, unsigned long param_count);
TEE_Result utee_cryp_derive_key(unsigned long state, const struct utee_attribute *params,
				unsigned long param_count, unsigned long derived_key);
TEE_Result utee_cryp_random_number_generate(void *buf, size_t blen);
TEE_Result utee_authenc_init(unsigned long state, const void *nonce, size_t nonce_len, size_t tag_len,
			     size_t aad_len, size_t payload_len);
TEE_Result utee_authenc_update_aad(unsigned long state, const void *aad, size_t aad_len);
TEE_Result utee_authenc_update_payload(unsigned long state, const void *src, size_t src_len, void *dest,
				       uint64_t *dest_len);
TEE_Result utee_authenc_enc_final(unsigned long state, const void *src, size_t src_len, void *dest,
				  uint64_t *dest_len, void *tag, uint64_t *tag_len);
TEE_Result utee_authenc_dec_final(unsigned long state, const void *src, size_t src_len, void *dest,
				  uint64_t *dest_len, const void *tag, size_t tag_len);
TEE_Result utee_asymm_operate(unsigned long state, const struct utee_attribute *params, unsigned long num_params,
			      const void *src, size_t src_len, void *dest, uint64_t *dest_len);
TEE_Result utee_asymm_verify(unsigned long state, const struct utee_attribute *params, unsigned long num_params,
			     const void *data, size_t data_len, const void *sig, size_t sig_len);
TEE_Result utee_storage_obj_open(unsigned long storage_id, const void *object_id, size_t object_id_len,
				 unsigned long flags, uint32_t *obj);
TEE_Result utee_storage_obj_create(unsigned long storage_id, const void *object_id, size_t object_id_len,
				   unsigned long flags, unsigned long attr, const void *data, size_t len,
				   uint32_t *obj);
TEE_Result utee_storage_obj_del(unsigned long obj);
TEE_Result utee_storage_obj_rename(unsigned long obj, const void *new_id, size_t new_id_len);
TEE_Result utee_storage_alloc_enum(uint32_t *obj_enum);
TEE_Result utee_storage_free_enum(unsigned long obj_enum);
TEE_Result utee_storage_reset_enum(unsigned long obj_enum);
TEE_Result utee_storage_start_enum(unsigned long obj_enum, unsigned long storage_id);
TEE_Result utee_storage_next_enum(unsigned long obj_enum, struct utee_object_info *info, void *obj_id,
				  uint64_t *len);
TEE_Result utee_storage_obj_read(unsigned long obj, void *data, size_t len, uint64_t *count);
TEE_Result utee_storage_obj_write(unsigned long obj, const void *data, size_t len);
TEE_Result utee_storage_obj_trunc(unsigned long obj, size_t len);
TEE_Result utee_storage_obj_seek(unsigned long obj, int32_t offset, unsigned long whence);
/* any utee number, for calls that have no wrapper (tests of unknown numbers) */
long utee_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8);

/* freestanding functions the compiler may call */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
void ta_log(const char *text);

#endif
