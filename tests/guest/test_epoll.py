"""epoll, eventfd, timerfd and signalfd: the epoll probe (static musl and dynamic glibc
builds) and Debian's python3 using selectors and select.epoll, natively and in the
sandbox. asyncio's event loop needs socketpair(2) for its wake-up channel, which the
sandbox does not offer yet, so Python's side is exercised below the event loop, and an
asyncio echo over pipes is expected to fail until socketpair exists."""

import textwrap

import pytest

pytestmark = pytest.mark.guest

PYTHON = "/usr/bin/python3.11"

PROGRAMS = {
    "selectors_pipes": """
        import os, selectors
        sel = selectors.DefaultSelector()
        print(type(sel).__name__)
        pipes = [os.pipe() for _ in range(3)]
        for index, (r, w) in enumerate(pipes):
            sel.register(r, selectors.EVENT_READ, f"pipe{index}")
        print("idle", sel.select(0))
        os.write(pipes[1][1], b"one")
        os.write(pipes[2][1], b"two")
        print("ready", sorted((key.data, events) for key, events in sel.select(1)))
        # an echo loop: every message read from one pipe is written back upper-cased
        replies = []
        for r, w in pipes:
            os.write(w, b"ping")
        while len(replies) < 3:
            for key, _ in sel.select(1):
                replies.append((key.data, os.read(key.fd, 100).upper()))
        print("echo", sorted(replies))
        sel.unregister(pipes[0][0])
        os.close(pipes[1][1])
        print("hangup", [(key.data, events) for key, events in sel.select(1)])
        sel.close()
    """,
    "epoll_eventfd": """
        import os, select, signal, struct, time
        ep = select.epoll()
        efd = os.eventfd(0, os.EFD_NONBLOCK)
        ep.register(efd, select.EPOLLIN | select.EPOLLET)
        print("idle", ep.poll(0))
        os.eventfd_write(efd, 3)
        print("ready", ep.poll(0) == [(efd, select.EPOLLIN)], "again", ep.poll(0))
        print("value", os.eventfd_read(efd))
        r, w = os.pipe()
        ep.register(r, select.EPOLLIN)
        pid = os.fork()
        if pid == 0:
            time.sleep(0.02)
            os.write(w, b"x")
            os._exit(0)
        print("woken", ep.poll(5) == [(r, select.EPOLLIN)])
        os.waitpid(pid, 0)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        os.kill(os.getpid(), signal.SIGUSR1)
        print("sigwait", signal.sigwait({signal.SIGUSR1}) == signal.SIGUSR1)
        ep.close()
        try:
            ep.register(r, select.EPOLLIN)
        except ValueError as e:
            print("closed:", e)
    """,
}

#: an echo over two pipes with asyncio's add_reader, asyncio.Queue, wait_for and a
#: thread pool executor
ASYNCIO_PIPE_ECHO = """
import asyncio, os

async def main():
    loop = asyncio.get_running_loop()
    to_server_r, to_server_w = os.pipe()
    to_client_r, to_client_w = os.pipe()
    for fd in (to_server_r, to_client_r):
        os.set_blocking(fd, False)

    def serve():
        data = os.read(to_server_r, 100)
        if data:
            os.write(to_client_w, data.upper())
        else:
            loop.remove_reader(to_server_r)
            os.close(to_client_w)

    loop.add_reader(to_server_r, serve)
    replies = asyncio.Queue()

    def receive():
        data = os.read(to_client_r, 100)
        replies.put_nowait(data)
        if not data:
            loop.remove_reader(to_client_r)

    loop.add_reader(to_client_r, receive)
    for word in (b"alpha", b"beta", b"gamma"):
        os.write(to_server_w, word)
        print("echo", await asyncio.wait_for(replies.get(), 5))
    os.close(to_server_w)
    print("end", await replies.get())
    await asyncio.sleep(0.01)
    try:
        await asyncio.wait_for(asyncio.sleep(5), 0.02)
    except asyncio.TimeoutError:
        print("timed out as asked")
    print("executor", await loop.run_in_executor(None, sum, [1, 2, 3]))

asyncio.run(main())
"""


@pytest.mark.parametrize("name", ["epoll", "epoll.dyn"])
def test_epoll_probe_matches_native(compare, name):
    compare(name)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_python_program_matches_native(compare, name):
    compare([PYTHON, "-c", textwrap.dedent(PROGRAMS[name])])


def test_asyncio_pipe_echo_matches_native(compare):
    compare([PYTHON, "-c", ASYNCIO_PIPE_ECHO])
