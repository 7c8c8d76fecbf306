"""Debian's python3.11 using processes, threads, pipes, signals, AF_UNIX sockets and loopback
TCP/UDP (an http.server with a urllib client), natively and in the sandbox. Each program prints
only deterministic facts."""

import textwrap

import pytest

pytestmark = pytest.mark.guest

PYTHON = "/usr/bin/python3.11"

PROGRAMS = {
    "subprocess_run": """
        import subprocess
        r = subprocess.run(["ls", "/"], capture_output=True, text=True)
        names = r.stdout.split()
        print("ls / status", r.returncode, "has usr", "usr" in names, "has etc", "etc" in names)
        r = subprocess.run(["ls", "-l", "/usr/bin/env"], capture_output=True, text=True)
        print("ls -l status", r.returncode)
        print(r.stdout, end="")
        r = subprocess.run(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True)
        print(r.returncode, r.stdout, r.stderr)
        print("killed child:", subprocess.run(["sh", "-c", "kill -TERM $$"]).returncode)
        try:
            subprocess.run(["sleep", "5"], timeout=0.2)
        except subprocess.TimeoutExpired as e:
            print("timeout expired for", e.cmd)
        print("check_output:", subprocess.check_output(["echo", "hi"]))
    """,
    "fork_waitpid": """
        import os
        pid = os.fork()
        if pid == 0:
            os._exit(5)
        got, status = os.waitpid(pid, 0)
        print("same pid", got == pid, "exited", os.WIFEXITED(status), "code", os.WEXITSTATUS(status))
        print("exit code", os.waitstatus_to_exitcode(status))
        pid = os.fork()
        if pid == 0:
            os.kill(os.getpid(), 9)
        print("signal exit code", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        try:
            os.waitpid(-1, 0)
        except ChildProcessError as e:
            print("no children:", e.errno == 10)
    """,
    "threading_lock": """
        import threading
        lock = threading.Lock()
        counter = 0
        def work():
            global counter
            # modest on purpose: every acquire costs a clock_gettime, a full
            # round trip to the supervisor in the sandbox
            for _ in range(1000):
                with lock:
                    counter += 1
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("counter", counter, "threads left", threading.active_count())
        results = {}
        def ident(i):
            results[i] = threading.get_ident() != threading.main_thread().ident
        ts = [threading.Thread(target=ident, args=(i,)) for i in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        print("own thread ids", sorted(results.items()))
        ev = threading.Event()
        cond = threading.Condition()
        items = []
        def producer():
            for i in range(100):
                with cond:
                    items.append(i)
                    cond.notify()
            ev.set()
        t = threading.Thread(target=producer)
        t.start()
        got = 0
        while got < 100:
            with cond:
                cond.wait_for(lambda: items)
                got += len(items)
                items.clear()
        t.join()
        print("condition handoff", got, ev.is_set())
    """,
    "multiprocessing_pool": """
        import multiprocessing as mp
        def square(x):
            return x * x
        if __name__ == "__main__":
            mp.set_start_method("fork")
            with mp.Pool(4) as pool:
                print(pool.map(square, range(10)))
    """,
    "multiprocessing_process_queue": """
        import multiprocessing as mp
        def child(inbox, outbox):
            outbox.put([v * 2 for v in inbox.get()])
        if __name__ == "__main__":
            mp.set_start_method("fork")
            inbox, outbox = mp.Queue(), mp.Queue()
            p = mp.Process(target=child, args=(inbox, outbox))
            p.start()
            inbox.put([1, 2, 3])
            print(outbox.get(timeout=30))
            p.join()
            print("exitcode", p.exitcode)
            value = mp.Value("i", 0)
            def bump(v):
                with v.get_lock():
                    v.value += 10
            procs = [mp.Process(target=bump, args=(value,)) for _ in range(3)]
            [p.start() for p in procs]
            [p.join() for p in procs]
            print("shared value", value.value)
    """,
    "signal_alarm": """
        import signal, time
        got = []
        signal.signal(signal.SIGALRM, lambda signum, frame: got.append(signum))
        signal.alarm(1)
        time.sleep(1.5)
        print("recorded", got, "remaining", signal.alarm(0))
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        time.sleep(0.2)
        print("after setitimer", got)
    """,
    "signal_kill_self": """
        import os, signal, threading
        got = []
        signal.signal(signal.SIGUSR1, lambda s, f: got.append("usr1"))
        signal.signal(signal.SIGUSR2, lambda s, f: got.append("usr2"))
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR2)
        os.kill(os.getpid(), signal.SIGUSR1)
        print(got)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        os.kill(os.getpid(), signal.SIGUSR1)
        print("pending", signal.sigpending() == {signal.SIGUSR1}, got)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
        print("after unblock", got)
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        os.kill(os.getpid(), signal.SIGUSR1)
        print("sigwait", signal.sigwait({signal.SIGUSR1}) == signal.SIGUSR1)
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            print("KeyboardInterrupt")
    """,
    "popen_pipes": """
        import subprocess
        p = subprocess.Popen(["sort"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out, err = p.communicate(b"b\\na\\n")
        print(out, err, p.returncode)
        p1 = subprocess.Popen(["printf", "3\\\\n1\\\\n2\\\\n"], stdout=subprocess.PIPE)
        p2 = subprocess.Popen(["sort", "-n"], stdin=p1.stdout, stdout=subprocess.PIPE)
        p1.stdout.close()
        print(p2.communicate()[0], p1.wait(), p2.returncode)
        big = b"x" * 300000
        p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out, _ = p.communicate(big)
        print("cat of 300000 bytes", len(out), out == big)
    """,
    "pipe_fork": """
        import os
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            for i in range(3):
                os.write(w, b"message %d\\n" % i)
            os._exit(0)
        os.close(w)
        data = b""
        while chunk := os.read(r, 7):
            data += chunk
        os.close(r)
        print(data.decode().splitlines(), os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    """,
    "signal_during_waits": """
        import signal, threading, time
        got = []
        signal.signal(signal.SIGALRM, lambda s, f: got.append("alrm"))
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        print("event wait returns", threading.Event().wait(0.3), got)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        lock = threading.Lock()
        lock.acquire()
        print("lock acquire returns", lock.acquire(timeout=0.3), got)
        def sleeper():
            time.sleep(0.3)
        t = threading.Thread(target=sleeper)
        t.start()
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        start = time.monotonic()
        t.join(timeout=1.5)
        print("handled while joining", got, "joined promptly", time.monotonic() - start < 1)
    """,
    "sessions_and_groups": """
        import os, signal, subprocess, sys
        p = subprocess.Popen(["sleep", "5"], start_new_session=True)
        os.killpg(p.pid, signal.SIGTERM)
        print("killpg", p.wait())
        code = "import os; os.setsid(); print(os.getpgid(0) == os.getpid() == os.getsid(0))"
        print("setsid", subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip())
        r = subprocess.run(["sh", "-c", "exit 3"], preexec_fn=lambda: os.setpgid(0, 0))
        print("preexec_fn", r.returncode)
        try:
            subprocess.run(["/nonexistent/program"])
        except FileNotFoundError as e:
            print("missing program", e.errno)
    """,
    "posix_spawn": """
        import os
        pid = os.posix_spawn("/bin/sh", ["sh", "-c", "exit 6"], {"PATH": "/usr/bin:/bin"})
        print("posix_spawn", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        pid = os.posix_spawnp("echo", ["echo", "spawned by posix_spawnp"], {"PATH": "/usr/bin:/bin"})
        print("posix_spawnp", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    """,
    "posix_spawn_missing_program": """
        import os
        try:
            pid = os.posix_spawn("/nonexistent/program", ["program"], {})
            print("spawned; child exit code", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        except FileNotFoundError as e:
            print("FileNotFoundError", e.errno)
    """,
    "thread_pool_executor": """
        from concurrent.futures import ThreadPoolExecutor, as_completed
        with ThreadPoolExecutor(max_workers=4) as ex:
            print(list(ex.map(lambda x: x ** 3, range(12))))
            futures = [ex.submit(sum, range(n)) for n in (10, 100, 1000)]
            print(sorted(f.result() for f in as_completed(futures)))
            bad = ex.submit(lambda: 1 / 0)
            print("exception", type(bad.exception()).__name__)
    """,
    "mmap_files": """
        import mmap
        for path in ["/usr/bin/python3", "/etc/passwd"]:
            for flags in (mmap.MAP_SHARED, mmap.MAP_PRIVATE):
                for prot in (mmap.PROT_READ, mmap.PROT_READ | mmap.PROT_WRITE):
                    try:
                        with open(path, "rb") as f:
                            m = mmap.mmap(f.fileno(), 0, flags=flags, prot=prot)
                            print(path, flags, prot, m[:4], len(m), m[-3:])
                    except OSError as e:
                        print(path, flags, prot, e)
    """,
    "unix_sockets": """
        import asyncio, os, socket, threading
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind("py-unix.sock")
        srv.listen()
        def serve():
            conn, _ = srv.accept()
            with conn:
                conn.sendall(conn.recv(100).upper())
        server_thread = threading.Thread(target=serve)
        server_thread.start()
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect("py-unix.sock")
        print("peer", client.getpeername())
        client.sendall(b"hello")
        print("echo", client.recv(100))
        client.close()
        server_thread.join()
        srv.close()
        os.unlink("py-unix.sock")
        a, b = socket.socketpair()
        r, w = os.pipe()
        socket.send_fds(a, [b"x"], [w])
        msg, fds, flags, _ = socket.recv_fds(b, 10, 4)
        os.write(fds[0], b"via fd")
        print("passed fd", os.read(r, 10), msg, flags, len(fds))
        async def main():
            async def pong(reader, writer):
                writer.write(await reader.read(4) + b" pong")
                writer.close()
            server = await asyncio.start_unix_server(pong, path="py-async.sock")
            reader, writer = await asyncio.open_unix_connection("py-async.sock")
            writer.write(b"ping")
            print("asyncio", await reader.read())
            writer.close()
            server.close()
            await server.wait_closed()
        asyncio.run(main())
        os.unlink("py-async.sock")
    """,
    "inet_http": """
        import http.server, socket, socketserver, threading, urllib.error, urllib.request
        class Hello(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/missing":
                    self.send_error(404)
                    return
                body = ("hello from " + self.path).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def do_POST(self):
                data = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(201)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data.upper())
            def log_message(self, *args):
                pass  # the log has times and ports
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
        host, port = server.server_address
        print("server on", host, "ephemeral", port >= 1024)
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        base = "http://127.0.0.1:%d" % port
        with urllib.request.urlopen(base + "/index") as reply:
            print("GET", reply.status, reply.headers["Content-Type"], reply.read())
        request = urllib.request.Request(base + "/echo", data=b"posted body", method="POST")
        with urllib.request.urlopen(request) as reply:
            print("POST", reply.status, reply.read())
        try:
            urllib.request.urlopen(base + "/missing", timeout=5).read()
        except urllib.error.HTTPError as error:
            print("missing", error.code)
        server.shutdown()
        thread.join()
        server.server_close()
        try:
            urllib.request.urlopen(base + "/gone", timeout=5)
        except urllib.error.URLError as error:
            print("after close", type(error.reason).__name__, error.reason.errno == 111)
        class Echo(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(self.rfile.readline().upper())
        class Server6(socketserver.ThreadingTCPServer):
            address_family = socket.AF_INET6
            allow_reuse_address = True
        with Server6(("::1", 0), Echo) as six:
            threading.Thread(target=six.serve_forever).start()
            with socket.create_connection(("::1", six.server_address[1])) as client:
                client.sendall(b"over ipv6\\n")
                print("v6 echo", client.makefile("rb").readline(), client.getpeername()[0])
            six.shutdown()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.sendto(b"datagram", udp.getsockname())
        data, source = udp.recvfrom(100)
        print("udp", data, source[0], source[1] == sender.getsockname()[1])
    """,
    "mmap_big_file": """
        import mmap, os, tempfile
        MIB = 1 << 20
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "big")
            with open(path, "w+b") as f:
                for at, mark in ((0, b"head"), (17 * MIB + 5, b"past one read"), (40 * MIB - 4, b"tail")):
                    f.seek(at)
                    f.write(mark)
                f.flush()
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                    print(len(m), m[:4], m[17 * MIB + 5:17 * MIB + 18], m[-4:])
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY) as m:
                    m[17 * MIB + 5:17 * MIB + 9] = b"PAST"
                    print("copy", m[17 * MIB + 5:17 * MIB + 18])
                    m.madvise(mmap.MADV_DONTNEED, 16 * MIB, 4 * MIB)
                    print("after dontneed", m[17 * MIB + 5:17 * MIB + 18])
                with mmap.mmap(f.fileno(), 0) as m:
                    m[-4:] = b"TAIL"
                    m.flush()
                f.seek(-4, os.SEEK_END)
                print("shared write back", f.read())
    """,
    "sched_calls": """
        import os, sys
        mine = os.sched_getscheduler(0)
        param = os.sched_getparam(0)
        print("policy", mine, "priority", param.sched_priority)
        os.sched_setscheduler(0, mine, param)
        os.sched_setparam(0, param)
        print("set the same: ok")
        for args in ((0, mine, os.sched_param(5)), (-1, mine, param), (0, 77, param), (1 << 30, mine, param)):
            try:
                os.sched_setscheduler(*args)
            except OSError as e:
                print("setscheduler", args[0], args[1], "errno", e.errno)
        print("rr interval", os.sched_rr_get_interval(0))
        code = "import os, sys; sys.exit(os.sched_getscheduler(0) * 10 + os.sched_getparam(0).sched_priority)"
        for scheduler in ((None, param), (mine, param)):
            pid = os.posix_spawn(sys.executable, [sys.executable, "-c", code], os.environ, scheduler=scheduler)
            print("spawned with", scheduler[0], os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    """,
    "lock_wait_restarted_by_a_signal": """
        import os, threading, time
        # os.setgroups makes glibc signal every other thread (SA_RESTART) so that each
        # changes its own groups: the waiting thread's futex wait restarts, and the one
        # release that follows must still wake it
        lock = threading.Lock()
        lock.acquire()
        got = []
        def waiter():
            got.append(lock.acquire(timeout=20))
        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.3)
        os.setgroups(os.getgroups())
        time.sleep(0.3)
        lock.release()
        thread.join()
        print("acquired after the restart:", got)
    """,
    "cpu_time_itimers": """
        import signal
        for which, signo in ((signal.ITIMER_PROF, signal.SIGPROF), (signal.ITIMER_VIRTUAL, signal.SIGVTALRM)):
            hits = []
            signal.signal(signo, lambda *args: hits.append(1))
            signal.setitimer(which, 0.05, 0.05)
            while len(hits) < 3:
                pow(12345, 67890, 10000019)
            left = signal.setitimer(which, 0)
            print(signal.Signals(signo).name, "three times; interval", left[1], "then", signal.getitimer(which))
    """,
    "nice_values": """
        import os
        base = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, base + 1)
        print("raised by", os.getpriority(os.PRIO_PROCESS, 0) - base, "nice(0) says", os.nice(0) - base, flush=True)
        pid = os.fork()
        if pid == 0:
            print("child raised by", os.getpriority(os.PRIO_PROCESS, 0) - base, flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        os.setpriority(os.PRIO_PROCESS, 0, base)
        print("back to", os.getpriority(os.PRIO_PROCESS, 0) - base)
    """,
}


XFAIL = {
    "posix_spawn_missing_program": "posix_spawn of a missing program succeeds (child exits 127): glibc's "
                                   "CLONE_VM|CLONE_VFORK child reports ENOENT by writing to a copy of memory",
}


@pytest.mark.every_platform
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=XFAIL[name])) if name in XFAIL else name
    for name in PROGRAMS
])
def test_python_program_matches_native(compare, name):
    compare([PYTHON, "-c", textwrap.dedent(PROGRAMS[name])])
