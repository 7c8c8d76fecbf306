"""Loopback TCP and UDP over 127.0.0.1 and ::1: the inet_sockets probe prints the same
natively and in the sandbox; so does a Python program using UDP-Lite (its own ports,
its checksum-coverage options and the datagrams a receiver's coverage drops)."""

import pytest

pytestmark = pytest.mark.guest


@pytest.mark.parametrize("name", ["inet_sockets", "inet_sockets.dyn"])
def test_inet_sockets_match_native(compare, name):
    compare(name)


#: UDP-Lite over loopback (CPython's test_socket creates such sockets in its setUp)
UDPLITE = """
import select, socket
UDPLITE = socket.IPPROTO_UDPLITE
SEND, RECV = socket.UDPLITE_SEND_CSCOV, socket.UDPLITE_RECV_CSCOV

def arrives(sock):
    return bool(select.select([sock], [], [], 0.3)[0])

lite = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, UDPLITE)
print("protocol", lite.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL), lite.proto)
print("defaults", lite.getsockopt(UDPLITE, SEND), lite.getsockopt(UDPLITE, RECV))
for value in (3, 20, 70000, -5, 0):
    lite.setsockopt(UDPLITE, SEND, value)
    lite.setsockopt(socket.SOL_UDP, RECV, value)
    print("coverage", value, lite.getsockopt(socket.SOL_UDP, SEND), lite.getsockopt(UDPLITE, RECV))
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    udp.setsockopt(socket.SOL_UDP, SEND, 20)
except OSError as e:
    print("udp send coverage:", e.strerror)
try:
    udp.getsockopt(socket.SOL_UDP, RECV)
except OSError as e:
    print("udp recv coverage:", e.strerror)
# UDP and UDP-Lite have separate ports: both bind one number, each hears its own kind
lite.bind(("127.0.0.1", 0))
port = lite.getsockname()[1]
udp.bind(("127.0.0.1", port))
print("same port bound", udp.getsockname()[1] == port)
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, UDPLITE)
sender.sendto(b"lite", ("127.0.0.1", port))
print("udp-lite to lite", arrives(lite) and lite.recvfrom(100)[0], "udp got it", arrives(udp))
plain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
plain.sendto(b"plain", ("127.0.0.1", port))
print("udp to udp", arrives(udp) and udp.recvfrom(100)[0], "lite got it", arrives(lite))
# a receiver asking for 20 covered bytes drops datagrams checked over fewer
lite.setsockopt(UDPLITE, RECV, 20)
sender.setsockopt(UDPLITE, SEND, 10)
sender.sendto(b"x" * 100, ("127.0.0.1", port))
print("partial coverage 10 arrives", arrives(lite))
sender.setsockopt(UDPLITE, SEND, 30)
sender.sendto(b"y" * 100, ("127.0.0.1", port))
print("partial coverage 30 arrives", arrives(lite) and lite.recv(200) == b"y" * 100)
sender.setsockopt(UDPLITE, SEND, 0)
sender.sendto(b"z" * 4, ("127.0.0.1", port))
print("full coverage of a short datagram arrives", arrives(lite) and lite.recv(200))
sender.connect(("127.0.0.1", port))
sender.send(b"connected")
print("connected", lite.recvfrom(100) == (b"connected", sender.getsockname()))
# a receiver that set its coverage to 0 takes only fully covered datagrams
lite.setsockopt(UDPLITE, RECV, 0)
sender.setsockopt(UDPLITE, SEND, 30)
sender.send(b"w" * 100)
print("partial coverage to a full-coverage receiver arrives", arrives(lite))
sender.send(b"v" * 10)
print("coverage past the end is full coverage", arrives(lite) and lite.recv(100))
"""


def test_udplite_matches_native(compare):
    compare(["/usr/bin/python3.11", "-c", UDPLITE])
