"""The OP-TEE runner's host-side pieces: where state lives and the secret's file."""

from __future__ import annotations

import stat

import pytest

from slimbox.optee import SECRET_BYTES, default_state_dir, load_or_create_secret


def test_the_state_directory_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_state_dir() == tmp_path / "state" / "slimbox" / "optee"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_dir() == tmp_path / "home" / ".local" / "state" / "slimbox" / "optee"


def test_the_secret_is_made_once_private_and_then_kept(tmp_path):
    path = tmp_path / "deep" / "secret"
    secret = load_or_create_secret(path)
    assert len(secret) == SECRET_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_secret(path) == secret
    assert load_or_create_secret(tmp_path / "other") != secret


def test_a_short_secret_is_refused(tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(b"too short")
    with pytest.raises(ValueError):
        load_or_create_secret(path)
