"""The sandbox's own network: sockets live in the kernel, never on the host."""
