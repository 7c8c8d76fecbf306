"""The OP-TEE personality: Trusted Applications written against the GlobalPlatform
TEE Internal Core API, served through OP-TEE's utee and ldelf system calls."""
