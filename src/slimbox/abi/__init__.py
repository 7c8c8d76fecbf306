"""Pure-data description of the Linux x86-64 ABI: syscall table, errno values and constants."""
