"""kernel/net/unix.py on its own: what a socket holds in flight, the address namespace
and how sockets let go of both."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_KERNEL_TESTS = str(Path(__file__).resolve().parents[1])  # where guest.py lives
if _KERNEL_TESTS not in sys.path:
    sys.path.insert(0, _KERNEL_TESTS)

from guest import FakeGuest  # noqa: E402
from slimbox.abi.errno import Errno  # noqa: E402
from slimbox.kernel.errors import Block, LinuxError  # noqa: E402
from slimbox.kernel.file import File  # noqa: E402
from slimbox.kernel.net.unix import (  # noqa: E402
    SOCK_DGRAM, SOCK_SEQPACKET, SOCK_STREAM, UnixNamespace, UnixSocket, namespace_of,
)


class Tracked(File):
    """A file that records when its last reference goes."""

    def __init__(self) -> None:
        super().__init__(0)
        self.released = False

    def release(self) -> None:
        self.released = True


def in_flight(file: File) -> File:
    file.refs += 1   # the reference a message takes when the file is sent
    return file


@pytest.fixture
def g() -> FakeGuest:
    return FakeGuest()


def test_files_in_an_unread_message_are_released_with_the_socket():
    one, other = UnixSocket.pair(SOCK_STREAM, 0, 1, (1, 0, 0))
    carried = Tracked()
    assert one.send(None, b"x", [in_flight(carried)], nonblocking=True, nosignal=True) == 1
    assert not carried.released
    other.release()
    assert carried.released


def test_a_stream_read_stops_before_a_message_that_carries_files():
    one, other = UnixSocket.pair(SOCK_STREAM, 0, 1, (1, 0, 0))
    one.send(None, b"plain", [], nonblocking=True, nosignal=True)
    one.send(None, b"with", [in_flight(Tracked())], nonblocking=True, nosignal=True)
    first = other.receive(None, 100, nonblocking=True, peek=False, waitall=False)
    assert first.data == b"plain" and first.files == []
    second = other.receive(None, 100, nonblocking=True, peek=False, waitall=False)
    assert second.data == b"with" and len(second.files) == 1


def test_an_empty_stream_send_passes_no_files():
    one, other = UnixSocket.pair(SOCK_STREAM, 0, 1, (1, 0, 0))
    carried = Tracked()
    assert one.send(None, b"", [in_flight(carried)], nonblocking=True, nosignal=True) == 0
    assert carried.released and not other.inbox


def test_a_blocking_receive_raises_block_on_the_data_and_state_queues():
    one, _ = UnixSocket.pair(SOCK_SEQPACKET, 0, 1, (1, 0, 0))
    with pytest.raises(Block) as blocked:
        one.receive(None, 10, nonblocking=False, peek=False, waitall=False)
    assert set(blocked.value.queues) == {one.data_queue, one.state_queue}


def test_a_datagram_bigger_than_the_room_goes_into_an_empty_queue_only():
    one, other = UnixSocket.pair(SOCK_DGRAM, 0, 1, (1, 0, 0))
    other.set_buffer(False, 1)      # the smallest receive buffer
    big = b"x" * (other.rcvbuf + 10)
    assert one.send(None, big, [], nonblocking=True, nosignal=True) == len(big)
    with pytest.raises(LinuxError) as error:
        one.send(None, b"y", [], nonblocking=True, nosignal=True)
    assert error.value.errno == Errno.EAGAIN


def test_the_namespace_is_one_per_kernel_and_forgets_closed_sockets(g):
    namespace = namespace_of(g.kernel)
    assert namespace_of(g.kernel) is namespace and isinstance(namespace, UnixNamespace)
    sock = UnixSocket(SOCK_STREAM, 0, 1, (1, 0, 0))
    sock.bind(g.task, b"\0name")
    assert namespace.abstract[b"\0name"] is sock
    sock.bind(g.task, None)          # autobind leaves a bound socket alone
    assert sock.address == b"\0name"
    sock.release()
    assert b"\0name" not in namespace.abstract


def test_autobind_names_skip_names_in_use():
    namespace = UnixNamespace()
    first = namespace.autobind_name()
    namespace.abstract[first] = UnixSocket(SOCK_DGRAM, 0, 1)
    namespace.next_autobind = 0
    second = namespace.autobind_name()
    assert second != first and len(second) == 6 and second[0] == 0
