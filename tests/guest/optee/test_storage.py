"""Persistent objects: they outlive sessions and instances, are encrypted on the host,
and follow GP's rules for renaming, deleting, enumerating and sharing."""

from __future__ import annotations

from slimbox.optee import Param, TeeContext
from slimbox.shims.optee import abi
from tests.guest.optee.conftest import STORAGE

SECRET_TEXT = b"the launch code is 0000, tell nobody" * 4


def _write(session, object_id: bytes, data: bytes) -> int:
    return session.invoke(0, [Param.memref_input(object_id), Param.memref_input(data)]).code


def _read(session, object_id: bytes):
    return session.invoke(1, [Param.memref_input(object_id), Param.memref_output(4096)])


def test_an_object_survives_its_session_and_is_ciphertext_on_the_host(tee, state):
    with tee.open_session(STORAGE) as session:
        assert _write(session, b"diary", SECRET_TEXT) == abi.TEE_SUCCESS
    with tee.open_session(STORAGE) as session:  # a new session, hence a new instance
        result = _read(session, b"diary")
    assert result.code == abi.TEE_SUCCESS and result.params[1].data == SECRET_TEXT
    files = [p for p in state["storage_dir"].rglob("*") if p.is_file()]
    assert files
    for path in files:
        raw = path.read_bytes()
        assert b"launch code" not in raw and b"diary" not in raw and b"diary" not in path.name.encode()


def test_objects_survive_a_new_tee_with_the_same_secret_only(tas, state, tmp_path):
    with TeeContext([tas["storage"]], **state) as tee:
        with tee.open_session(STORAGE) as session:
            assert _write(session, b"kept", b"across contexts") == abi.TEE_SUCCESS
    with TeeContext([tas["storage"]], **state) as tee:
        with tee.open_session(STORAGE) as session:
            assert _read(session, b"kept").params[1].data == b"across contexts"
    other_secret = tmp_path / "other-secret"
    with TeeContext([tas["storage"]], storage_dir=state["storage_dir"], secret_file=other_secret) as tee:
        with tee.open_session(STORAGE) as session:
            assert _read(session, b"kept").code == abi.TEE_ERROR_ITEM_NOT_FOUND
    assert (state["secret_file"].stat().st_mode & 0o777) == 0o600


def test_rename_delete_and_enumerate(tee):
    with tee.open_session(STORAGE) as session:
        for name in (b"a", b"b", b"c"):
            assert _write(session, name, name * 3) == abi.TEE_SUCCESS
        rename = session.invoke(3, [Param.memref_input(b"a"), Param.memref_input(b"z")])
        assert rename.code == abi.TEE_SUCCESS
        assert session.invoke(3, [Param.memref_input(b"b"), Param.memref_input(b"c")]).code == \
            abi.TEE_ERROR_ACCESS_CONFLICT
        assert session.invoke(2, [Param.memref_input(b"b")]).code == abi.TEE_SUCCESS
        assert _read(session, b"b").code == abi.TEE_ERROR_ITEM_NOT_FOUND
        listing = session.invoke(5, [Param.memref_input(b""), Param.memref_output(256)])
        assert listing.code == abi.TEE_SUCCESS
        data, names = listing.params[1].data, set()
        while data:
            names.add(data[1:1 + data[0]])
            data = data[1 + data[0]:]
        assert names == {b"c", b"z"}
        assert _read(session, b"z").params[1].data == b"aaa"


def test_seek_write_truncate(tee):
    with tee.open_session(STORAGE) as session:
        assert _write(session, b"doc", b"0123456789") == abi.TEE_SUCCESS
        edited = session.invoke(4, [Param.memref_input(b"doc"), Param.value_input(3, 8), Param.memref_output(64)])
        assert edited.code == abi.TEE_SUCCESS and edited.params[2].data == b"012XY567"
        grown = session.invoke(4, [Param.memref_input(b"doc"), Param.value_input(10, 14), Param.memref_output(64)])
        assert grown.params[2].data == b"012XY567\0\0XY\0\0"


def test_opening_twice_without_sharing_conflicts(tee):
    with tee.open_session(STORAGE) as session:
        assert _write(session, b"solo", b"x") == abi.TEE_SUCCESS
        result = session.invoke(6, [Param.memref_input(b"solo"), Param.value_output()])
        assert result.code == abi.TEE_SUCCESS and result.params[1].a == abi.TEE_ERROR_ACCESS_CONFLICT


def test_a_key_kept_in_storage_encrypts_after_reopening(tee):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    block = bytes(range(16))
    with tee.open_session(STORAGE) as session:
        assert session.invoke(7, [Param.memref_input(b"key")]).code == abi.TEE_SUCCESS
    with tee.open_session(STORAGE) as session:
        result = session.invoke(8, [Param.memref_input(b"key"), Param.memref_output(32), Param.memref_input(block),
                                    Param.memref_output(16)])
    assert result.code == abi.TEE_SUCCESS
    key = result.params[1].data
    assert len(key) == 32
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    assert result.params[3].data == encryptor.update(block) + encryptor.finalize()
