/* random: command 0 fills params[0] with random bytes from the TEE */
#include "tee_ta.h"

TA_HEADER(8192, 0, 0x2d1e0a14, 0x6b3c, 0x4e59, 0x8a, 0x01, 0x5a, 0x11, 0x3c, 0x0d, 0x00, 0x04);

TEE_Result TA_CreateEntryPoint(void) { return TEE_SUCCESS; }
void TA_DestroyEntryPoint(void) {}
TEE_Result TA_OpenSessionEntryPoint(uint32_t t, TEE_Param p[4], void **s) { (void)t; (void)p; *s = 0; return 0; }
void TA_CloseSessionEntryPoint(void *s) { (void)s; }

TEE_Result TA_InvokeCommandEntryPoint(void *session, uint32_t cmd, uint32_t types, TEE_Param params[4])
{
	(void)session;
	if (cmd != 0 || types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_OUTPUT, 0, 0, 0))
		return TEE_ERROR_BAD_PARAMETERS;
	return utee_cryp_random_number_generate(params[0].memref.buffer, params[0].memref.size);
}
