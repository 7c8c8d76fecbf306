"""watches.py: host streams watched through an epoll, and draining a signalfd or pipe."""

from __future__ import annotations

import os
import select

import pytest

from slimbox.platforms.linux.watches import StreamWatches, drain


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096])
def test_drain_empties_a_nonblocking_descriptor_whatever_it_holds(size):
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.write(w, b"x" * size)
        drain(r)
        with pytest.raises(BlockingIOError):
            os.read(r, 1)
    finally:
        os.close(r)
        os.close(w)


def test_a_watched_pipe_fires_once_with_its_latest_key():
    epoll = select.epoll()
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        watches = StreamWatches(epoll)
        assert not watches
        watches.watch(r, "old")
        watches.watch(r, "new")  # watched again: the newer key stands
        assert watches and r in watches
        assert epoll.poll(0) == []
        os.write(w, b"x")
        [(fd, _)] = epoll.poll(0)
        assert fd == r and watches.fired(fd).key == "new"
        assert not watches and epoll.poll(0) == []  # the watch ended with its event
        assert watches.take_ready_now() == []
    finally:
        epoll.close()
        os.close(r)
        os.close(w)


def test_a_stream_epoll_refuses_is_ready_at_the_next_look(tmp_path):
    epoll = select.epoll()
    fd = os.open(tmp_path / "file", os.O_RDWR | os.O_CREAT)
    try:
        watches = StreamWatches(epoll)
        watches.watch(fd, "file")
        watches.watch(fd, "file")
        assert not watches  # nothing for epoll to report
        assert [event.key for event in watches.take_ready_now()] == ["file"]
        assert watches.take_ready_now() == []
    finally:
        epoll.close()
        os.close(fd)
