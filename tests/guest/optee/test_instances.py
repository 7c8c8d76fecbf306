"""Sessions and instances as a TA's flags ask: one instance shared by sessions and
kept alive, or one session at a time (TEE_ERROR_BUSY)."""

from __future__ import annotations

import pytest

from slimbox.optee import Param, TeeClientError
from slimbox.shims.optee import abi
from tests.guest.optee.conftest import COUNTER, SOLO


def _count(session) -> tuple[int, int]:
    result = session.invoke(0, [Param.value_output()])
    assert result.code == abi.TEE_SUCCESS
    return result.params[0].a, result.params[0].b


def test_a_single_instance_is_shared_and_kept_alive(tee):
    first, second = tee.open_session(COUNTER), tee.open_session(COUNTER)
    assert first.instance is second.instance
    assert _count(first) == (1, 1)
    assert _count(first) == (2, 2)
    assert _count(second) == (3, 1)
    first.close()
    second.close()
    assert second.instance.alive  # TA_FLAG_INSTANCE_KEEP_ALIVE
    with tee.open_session(COUNTER) as third:
        assert third.instance is second.instance
        assert _count(third) == (4, 1)


def test_a_single_session_ta_is_busy_while_in_use(tee):
    session = tee.open_session(SOLO)
    with pytest.raises(TeeClientError) as busy:
        tee.open_session(SOLO)
    assert busy.value.code == abi.TEE_ERROR_BUSY
    assert _count(session) == (1, 1)
    session.close()
    assert not session.instance.alive  # not kept alive: a new session starts afresh
    with tee.open_session(SOLO) as again:
        assert _count(again) == (1, 1)
