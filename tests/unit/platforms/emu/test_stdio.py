"""platforms/emu/stdio.py: standard streams without termios, read through select() where
it takes the descriptor and through a reader thread where it does not (Windows)."""

from __future__ import annotations

import errno
import os
import stat
import threading

import pytest

from slimbox.platforms.emu.stdio import PortableStream, select_takes


@pytest.fixture
def pipe():
    """A pipe; afterwards its write end closes first, so a reader thread still reading it
    ends (end of file) before the read end's number can be reused by the next test."""
    r, w = os.pipe()
    yield r, w
    for fd in (w, r):
        try:
            os.close(fd)
        except OSError:
            pass
        if fd == w:
            for thread in threading.enumerate():
                if thread.name == f"slimbox-input-{r}":
                    thread.join(10)


def _wait_ready(stream: PortableStream, timeout: float = 5.0) -> bool:
    event = threading.Event()
    stream.when_ready(event.set)
    return event.wait(timeout)


@pytest.mark.parametrize("read_ahead", [False, True])
def test_a_pipe_reads_none_until_data_then_data_then_end_of_file(pipe, read_ahead):
    r, w = pipe
    stream = PortableStream(r, read_ahead=read_ahead)
    assert stream.read(10) is None
    assert not stream.ready() and stream.pending() == 0
    os.write(w, b"hello world")
    assert _wait_ready(stream)
    assert stream.ready() and stream.pending() >= 1
    assert stream.read(5) == b"hello"
    assert stream.read(100) == b" world"
    os.close(w)
    assert _wait_ready(stream)
    assert stream.read(10) == b""
    stream.close()


@pytest.mark.parametrize("read_ahead", [False, True])
def test_when_ready_calls_back_from_another_thread_once_data_comes(pipe, read_ahead):
    r, w = pipe
    stream = PortableStream(r, read_ahead=read_ahead)
    event = threading.Event()
    stream.when_ready(event.set)
    assert not event.wait(0.05)
    os.write(w, b"x")
    assert event.wait(5)
    assert stream.read(1) == b"x"
    stream.close()


def test_the_reader_thread_holds_at_most_about_a_megabyte_and_loses_nothing(pipe):
    import time

    from slimbox.platforms.emu import stdio

    r, w = pipe
    data = os.urandom(3 << 20)
    writer = threading.Thread(target=_write_all, args=(w, data), daemon=True)
    writer.start()
    stream = PortableStream(r, read_ahead=True)
    assert _wait_ready(stream)
    deadline = time.monotonic() + 60  # a loaded machine may starve the reader thread a while
    while stream.pending() < stdio._READ_AHEAD_LIMIT and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert stdio._READ_AHEAD_LIMIT <= stream.pending() < stdio._READ_AHEAD_LIMIT + stdio._CHUNK
    received = bytearray()
    while len(received) < len(data):
        chunk = stream.read(1 << 16)
        if chunk is None:
            assert _wait_ready(stream)
            continue
        received += chunk
    assert bytes(received) == data
    stream.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def test_the_reader_thread_passes_a_read_error_on(pipe):
    r, w = pipe
    stream = PortableStream(w, read_ahead=True)  # the write end cannot be read: EBADF
    assert _wait_ready(stream)
    with pytest.raises(OSError) as info:
        stream.read(1)
    assert info.value.errno == errno.EBADF


def test_a_regular_file_is_always_ready_and_pending_counts_what_is_left(tmp_path):
    path = tmp_path / "input"
    path.write_bytes(b"0123456789")
    fd = os.open(path, os.O_RDONLY)
    try:
        stream = PortableStream(fd)
        assert stream.ready()
        assert stream.read(4) == b"0123"
        assert stream.pending() == 6
        assert stat.S_ISREG(stream.stat().mode) and stream.stat().size == 10
        called = []
        stream.when_ready(lambda: called.append(1))
        assert called == [1]
    finally:
        os.close(fd)


def test_select_refusing_a_descriptor_chooses_the_reader_thread(pipe, monkeypatch):
    from slimbox.platforms.emu import stdio

    r, w = pipe
    assert select_takes(r)

    def sockets_only(*lists):
        raise OSError(errno.ENOTSOCK, "not a socket")

    monkeypatch.setattr(stdio.select, "select", sockets_only)
    assert not select_takes(r)
    stream = PortableStream(r)
    os.write(w, b"data")
    assert _wait_ready(stream)
    assert stream.read(10) == b"data"
    stream.close()


def test_writes_go_to_the_descriptor(pipe):
    r, w = pipe
    assert PortableStream(w).write(b"out") == 3
    assert os.read(r, 10) == b"out"


def test_terminal_settings_are_refused_with_enotty(pipe):
    stream = PortableStream(pipe[0])
    assert stream.is_terminal() is False
    for call, *args in [(stream.terminal_attributes,), (stream.set_terminal_attributes, 0, bytes(36)),
                        (stream.window_size,)]:
        with pytest.raises(OSError) as info:
            call(*args)
        assert info.value.errno == errno.ENOTTY


def test_a_terminal_gives_its_window_size():
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    try:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("<HHHH", 33, 101, 0, 0))
        stream = PortableStream(follower)
        assert stream.is_terminal()
        assert struct.unpack("<HHHH", stream.window_size()) == (33, 101, 0, 0)
        with pytest.raises(OSError) as info:
            stream.terminal_attributes()
        assert info.value.errno == errno.ENOTTY
    finally:
        os.close(leader)
        os.close(follower)
