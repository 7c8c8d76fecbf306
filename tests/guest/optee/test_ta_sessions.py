"""Sessions a TA opens on other TAs: parameters cross in both directions, the callee
sees the caller as its client, and cycles or deep nesting are refused."""

from __future__ import annotations

from slimbox.optee import Param
from slimbox.shims.optee import abi
from tests.guest.optee.conftest import CALLER, HELLO


def test_a_ta_invokes_another(tee):
    with tee.open_session(CALLER) as session:
        result = session.invoke(0, [Param.memref_input(abi.parse_uuid(HELLO)), Param.value_inout(0),
                                    Param.value_inout(41, 9)])
        assert result.code == abi.TEE_SUCCESS
        assert (result.params[2].a, result.params[2].b) == (42, 9)
        assert result.params[1].b == abi.TEE_ORIGIN_TRUSTED_APP
        # an error from the callee comes back with the callee as its origin
        refused = session.invoke(0, [Param.memref_input(abi.parse_uuid(HELLO)), Param.value_inout(77),
                                     Param.value_inout(1)])
        assert refused.code == abi.TEE_ERROR_BAD_PARAMETERS and refused.params[1].b == abi.TEE_ORIGIN_TRUSTED_APP
        missing = session.invoke(0, [Param.memref_input(bytes(16)), Param.value_inout(0), Param.value_inout(1)])
        assert missing.code == abi.TEE_ERROR_ITEM_NOT_FOUND and missing.params[1].b == abi.TEE_ORIGIN_TEE


def test_the_callee_sees_the_calling_ta_as_its_client(tee):
    with tee.open_session(CALLER) as session:
        result = session.invoke(1, [Param.memref_input(abi.parse_uuid(HELLO)), Param.value_output(),
                                    Param.memref_input(b"gpd.client.identity"), Param.memref_output(20)])
    assert result.code == abi.TEE_SUCCESS
    assert result.params[3].data == abi.TEE_IDENTITY.pack(abi.TEE_LOGIN_TRUSTED_APP, abi.parse_uuid(CALLER))
    with tee.open_session(HELLO) as direct:  # and a client application is TEE_LOGIN_PUBLIC
        own = direct.invoke(4, [Param.memref_input(b"gpd.client.identity"),
                                Param.value_input(abi.TEE_PROPSET_CURRENT_CLIENT), Param.memref_output(20),
                                Param.value_output()])
    assert own.params[2].data == abi.TEE_IDENTITY.pack(abi.TEE_LOGIN_PUBLIC, bytes(16))


def test_nesting_is_bounded_and_the_tee_recovers(tee):
    before = len(tee.core.kernel.processes)
    with tee.open_session(CALLER) as session:
        result = session.invoke(2, [Param.memref_input(abi.parse_uuid(CALLER)), Param.value_output()])
        assert result.code == abi.TEE_ERROR_BUSY
        again = session.invoke(0, [Param.memref_input(abi.parse_uuid(HELLO)), Param.value_inout(0),
                                   Param.value_inout(1)])
        assert again.code == abi.TEE_SUCCESS and again.params[2].a == 2  # the TEE still works
    assert len(tee.core.kernel.processes) == before  # every nested instance has ended
