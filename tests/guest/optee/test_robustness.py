"""Every utee number with hostile arguments from a TA: each call answers with a
TEE_Result, and neither the TA's session nor the supervisor suffers for it."""

from __future__ import annotations

import random
import struct

from slimbox.optee import Param
from slimbox.shims.optee import abi
from slimbox.shims.optee.table import UTEE
from tests.guest.optee.conftest import HELLO

SCRATCH = 1  # the TA turns this argument into a pointer to a zeroed, writable page
#: calls that end the entry or the instance, or wait, by design
_ENDING = {0, 2, 12}
_VALUES = (0, SCRATCH, 2, 16, 0x1000, 0xFFFFFFFF, 0x7FFFFFFFF000, 0xFFFF800000000000, (1 << 64) - 1,
           abi.TEE_PROPSET_CURRENT_TA, abi.ALG_SHA256, abi.TYPE_AES, 64, 4096, 1 << 40)


def _call(session, nr: int, args: list[int]) -> int:
    result = session.invoke(5, [Param.value_input(nr), Param.memref_input(struct.pack("<8Q", *args)),
                                Param.value_output()])
    assert result.code == abi.TEE_SUCCESS, (nr, args, abi.result_name(result.code))
    return result.params[2].a


def test_hostile_arguments_get_tee_results(tee):
    chooser = random.Random(7)
    known = set(abi.RESULT_NAMES)
    with tee.open_session(HELLO) as session:
        for nr in [n for n in range(75) if n not in _ENDING] + [71, 200, 0x3FFFFFFF]:
            patterns = [[0] * 8, [SCRATCH] * 8, [(1 << 64) - 1] * 8]
            patterns += [[chooser.choice(_VALUES) for _ in range(8)] for _ in range(12)]
            for args in patterns:
                answer = _call(session, nr, args)
                assert answer in known, (nr, args, hex(answer))
            if nr not in UTEE or UTEE[nr].handler is None:
                assert answer == abi.TEE_ERROR_NOT_SUPPORTED
        # the session, its instance and the TEE still work
        assert session.invoke(0, [Param.value_inout(1)]).params[0].a == 2
    assert tee.open_session(HELLO).invoke(0, [Param.value_inout(5)]).params[0].a == 6


def test_a_number_with_the_x32_bit_ends_the_ta_not_the_tee(tee):
    """The platform's seccomp filter kills any syscall with bit 30 set (the x32 ABI)
    before the kernel sees it: the TA dies with a clear reason; the TEE goes on."""
    with tee.open_session(HELLO) as session:
        result = session.invoke(5, [Param.value_input(0x40000000), Param.memref_input(bytes(64)),
                                    Param.value_output()])
        assert result.code == abi.TEE_ERROR_TARGET_DEAD
        assert "outside the x86-64 ABI" in session.instance.death
    assert tee.open_session(HELLO).invoke(0, [Param.value_inout(1)]).params[0].a == 2
