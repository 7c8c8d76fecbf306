"""Shims: each decodes one guest ABI into calls on the kernel."""
