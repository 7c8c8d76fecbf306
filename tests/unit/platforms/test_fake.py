"""platforms/fake.py: the fake platform behaves as the Linux platform where the kernel
can tell the difference."""

from __future__ import annotations

import pytest

from slimbox.platforms.fake import FakeHost, FakePlatform


def test_the_registers_of_an_ended_thread_cannot_be_read():
    # as ptrace on a host thread that is gone: the kernel must expect ProcessLookupError
    platform = FakePlatform(FakeHost())
    context = platform.new_process()
    context.regs.rax = 7
    context.kill()
    with pytest.raises(ProcessLookupError):
        context.regs
