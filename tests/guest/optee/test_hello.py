"""The hello TA: the entry convention, sessions and instances, and how a TA that
panics, faults or calls what is not there ends."""

from __future__ import annotations

import logging
import time

import pytest

from slimbox.optee import OpenSessionError, Param, TeeClientError, TeeContext
from slimbox.shims.optee import abi
from tests.guest.optee.conftest import HELLO


def test_increment_through_value_inout(tee):
    with tee.open_session(HELLO) as session:
        result = session.invoke(0, [Param.value_inout(41, 7)])
        assert result.code == abi.TEE_SUCCESS and result.origin == abi.TEE_ORIGIN_TRUSTED_APP
        assert (result.params[0].a, result.params[0].b) == (42, 7)
        again = session.invoke(0, [Param.value_inout(0xFFFFFFFF)])
        assert again.params[0].a == 0  # a 32-bit value wraps, as in C


def test_wrong_parameter_types_are_bad_parameters(tee):
    with tee.open_session(HELLO) as session:
        for params in ([Param.value_input(1)], [Param.memref_input(b"x")], []):
            result = session.invoke(0, params)
            assert result.code == abi.TEE_ERROR_BAD_PARAMETERS
            assert result.origin == abi.TEE_ORIGIN_TRUSTED_APP


def test_each_session_has_its_own_instance(tee):
    first = tee.open_session(HELLO)
    second = tee.open_session(HELLO)
    assert first.instance is not second.instance
    for session in (first, second):
        result = session.invoke(3, [Param.value_output()])
        assert result.params[0].a == 1  # TA_CreateEntryPoint ran once in each
    first.close()
    assert second.invoke(0, [Param.value_inout(1)]).params[0].a == 2
    second.close()
    assert not first.instance.alive and not second.instance.alive


def test_unknown_syscall_is_not_supported_and_logged(tee, caplog):
    with caplog.at_level(logging.WARNING, logger="slimbox.optee"):
        with tee.open_session(HELLO) as session:
            result = session.invoke(3, [Param.value_output()])
    assert result.code == abi.TEE_SUCCESS
    assert result.params[0].b == abi.TEE_ERROR_NOT_SUPPORTED
    assert "utee syscall 500" in caplog.text


@pytest.mark.parametrize("command,why", [(1, "panicked with code 0xdead"), (2, "SIGSEGV")])
def test_a_dying_ta_ends_its_session_with_target_dead(tee, caplog, command, why):
    with caplog.at_level(logging.ERROR, logger="slimbox.optee"):
        session = tee.open_session(HELLO)
        result = session.invoke(command)
    assert result.code == abi.TEE_ERROR_TARGET_DEAD and result.origin == abi.TEE_ORIGIN_TEE
    assert f"TA {HELLO} died: {why}" in caplog.text
    assert session.invoke(0, [Param.value_inout(1)]).code == abi.TEE_ERROR_TARGET_DEAD
    session.close()
    # the supervisor goes on: a new session starts a new instance
    with tee.open_session(HELLO) as fresh:
        assert fresh.invoke(0, [Param.value_inout(5)]).params[0].a == 6


def test_unknown_uuid_and_closed_session(tee):
    with pytest.raises(TeeClientError) as raised:
        tee.open_session("00000000-0000-0000-0000-000000000000")
    assert raised.value.code == abi.TEE_ERROR_ITEM_NOT_FOUND
    session = tee.open_session(HELLO)
    session.close()
    with pytest.raises(TeeClientError):
        session.invoke(0, [Param.value_inout(1)])
    assert not issubclass(TeeClientError, OpenSessionError)


@pytest.mark.parametrize("prop_set,name,kind,expected", [
    (abi.TEE_PROPSET_CURRENT_TA, b"gpd.ta.appID", abi.PROP_TYPE_UUID, abi.parse_uuid(HELLO)),
    (abi.TEE_PROPSET_CURRENT_TA, b"gpd.ta.stackSize", abi.PROP_TYPE_U32, (16384).to_bytes(4, "little")),
    (abi.TEE_PROPSET_CURRENT_TA, b"gpd.ta.singleInstance", abi.PROP_TYPE_BOOL, bytes(4)),
    (abi.TEE_PROPSET_CURRENT_CLIENT, b"gpd.client.identity", abi.PROP_TYPE_IDENTITY, bytes(20)),
    (abi.TEE_PROPSET_TEE_IMPLEMENTATION, b"gpd.tee.apiversion", abi.PROP_TYPE_STRING, b"1.3.1\0"),
])
def test_properties(tee, prop_set, name, kind, expected):
    with tee.open_session(HELLO) as session:
        result = session.invoke(4, [Param.memref_input(name), Param.value_input(prop_set), Param.memref_output(64),
                                    Param.value_output()])
        missing = session.invoke(4, [Param.memref_input(b"gpd.no.such"), Param.value_input(prop_set),
                                     Param.memref_output(64), Param.value_output()])
    assert result.code == abi.TEE_SUCCESS
    assert result.params[2].data == expected and result.params[3].a == kind
    assert missing.code == abi.TEE_ERROR_ITEM_NOT_FOUND


def test_wait_and_time(tee):
    with tee.open_session(HELLO) as session:
        result = session.invoke(6, [Param.value_input(30), Param.value_output()])
    assert result.code == abi.TEE_SUCCESS
    assert result.params[1].a >= 30  # the kernel parks the TA until the deadline has passed
    assert abs(result.params[1].b - time.time()) < 60  # REE time is the host's clock


def test_a_ta_that_never_returns_is_ended_at_the_time_limit(tas, state, caplog):
    with caplog.at_level(logging.ERROR, logger="slimbox.optee"):
        with TeeContext([tas["hello"]], request_timeout=None, log=logging.getLogger("slimbox.optee"),
                        **state) as tee:
            with tee.open_session(HELLO) as session:
                tee.core.request_timeout = 0.2  # only the request that loops meets the limit
                assert session.invoke(7).code == abi.TEE_ERROR_TARGET_DEAD
                tee.core.request_timeout = None
            with tee.open_session(HELLO) as fresh:
                assert fresh.invoke(0, [Param.value_inout(1)]).params[0].a == 2
    assert "longer than its time limit" in caplog.text


def test_a_cancellation_ends_an_unmasked_wait(tee):
    with tee.open_session(HELLO) as session:
        result = session.invoke(8, [Param.value_output()], cancel_after=0.05)
        assert result.code == abi.TEE_SUCCESS
        assert (result.params[0].a, result.params[0].b) == (abi.TEE_ERROR_CANCEL, 1)
        # the request is over: the next one starts without a cancellation
        assert session.invoke(0, [Param.value_inout(1)]).params[0].a == 2


def test_a_closed_context_refuses_sessions(tas, state):
    tee = TeeContext([tas["hello"]], **state)
    session = tee.open_session(HELLO)
    tee.close()
    tee.close()  # twice is harmless
    assert session.closed and not session.instance.alive
    with pytest.raises(TeeClientError) as closed:
        tee.open_session(HELLO)
    assert closed.value.code == abi.TEE_ERROR_BAD_STATE
