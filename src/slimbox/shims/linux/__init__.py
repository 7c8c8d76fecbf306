"""The Linux x86-64 syscall personality."""
