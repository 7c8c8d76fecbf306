"""Every test TA checks the parameter types it is given: the wrong ones are
TEE_ERROR_BAD_PARAMETERS from the TA, and the session carries on."""

from __future__ import annotations

import pytest

from slimbox.optee import Param
from slimbox.shims.optee import abi
from tests.guest.optee.conftest import AES, CALLER, COUNTER, DIGEST, HELLO, HMAC, RANDOM, SIGN, STORAGE

WRONG = [[], [Param.value_input(1)], [Param.value_output()] * 4, [Param.memref_input(b"x")] * 3]


@pytest.mark.parametrize("uuid", [HELLO, DIGEST, HMAC, AES, RANDOM, SIGN, STORAGE, COUNTER, CALLER])
def test_wrong_types_are_bad_parameters(tee, uuid):
    with tee.open_session(uuid) as session:
        for params in WRONG:
            result = session.invoke(0, params)
            assert result.code == abi.TEE_ERROR_BAD_PARAMETERS, (uuid, params)
            assert result.origin == abi.TEE_ORIGIN_TRUSTED_APP
        assert session.invoke(99, []).code == abi.TEE_ERROR_BAD_PARAMETERS  # an unknown command
