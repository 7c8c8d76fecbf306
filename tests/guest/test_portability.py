"""The emu platform where the host is not Linux (issue 9, acceptance 2).

Programs run with platform="emu" in a fresh interpreter whose start-up code first takes
away what Windows and macOS lack: the modules fcntl, termios, pty, tty, resource, pwd and
grp; ctypes loading the C library (unicorn's own library still loads); os.fork, forkpty,
register_at_fork and other POSIX-only os calls; dir_fd arguments; select.epoll and
select.poll, and select() on anything but sockets (as on Windows); the signal names
Windows has not. Each program's output is compared with its native run. Further tests
check that the blocking itself works and that the emu run never loaded the Linux
platform's modules.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.guest.conftest import ENV, GUEST_DIR, HERE, run_native

pytestmark = pytest.mark.guest

SRC = HERE.parent.parent / "src"

#: run first in the fresh interpreter, before anything imports slimbox
STARTUP = textwrap.dedent(r'''
    import ctypes, ctypes.util, errno, os, re, select, signal, stat, sys, time

    BLOCKED_MODULES = ("fcntl", "termios", "pty", "tty", "resource", "pwd", "grp")

    class RefuseImport:
        def find_spec(self, name, path=None, target=None):
            if name in BLOCKED_MODULES:
                raise ImportError(f"No module named {name!r} (made unavailable)")
            return None

    for name in BLOCKED_MODULES:
        sys.modules.pop(name, None)
    sys.meta_path.insert(0, RefuseImport())

    # the C library by any name (None is the program itself, with libc's symbols in it)
    LIBC = re.compile(r"(^|/)(lib)?c(\.so(\.\d+)*|\.dylib|-[\d.]+\.so)?$|msvcrt|ucrtbase|libSystem")
    ORIGINAL_CDLL = ctypes.CDLL

    class GuardedCDLL(ORIGINAL_CDLL):
        def __init__(self, name, *args, **kwargs):
            if name is None or LIBC.search(os.fspath(name)):
                raise OSError(f"{name}: cannot open shared object file (made unavailable)")
            super().__init__(name, *args, **kwargs)

    ctypes.CDLL = GuardedCDLL
    ctypes.cdll = ctypes.LibraryLoader(GuardedCDLL)
    find_library = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None if name == "c" else find_library(name)

    # os calls Windows has not (fork and friends, pread/pwrite, owners, FIFOs, sysconf...)
    for name in ("fork", "forkpty", "register_at_fork", "pread", "pwrite", "preadv", "pwritev",
                 "sched_getaffinity", "sysconf", "mkfifo", "mknod", "lchown", "chown", "fchown", "uname",
                 "getuid", "geteuid", "getgid", "getegid", "setsid", "killpg", "openpty", "pipe2",
                 "O_PATH", "O_DIRECTORY", "O_NOFOLLOW", "O_CLOEXEC", "O_NOCTTY", "O_NONBLOCK"):
        if hasattr(os, name):
            delattr(os, name)
    os.supports_dir_fd.clear()

    def refusing_dir_fd(function):
        def call(*args, **kwargs):
            for key in ("dir_fd", "src_dir_fd", "dst_dir_fd"):
                if kwargs.get(key) is not None:
                    raise NotImplementedError(f"{function.__name__}: {key} unavailable on this platform")
            return function(*args, **kwargs)
        return call

    for name in ("access", "chmod", "link", "lstat", "mkdir", "open", "readlink", "remove", "rename",
                 "replace", "rmdir", "stat", "symlink", "unlink", "utime"):
        setattr(os, name, refusing_dir_fd(getattr(os, name)))

    def path_only(function):
        def call(path=".", *args, **kwargs):
            if isinstance(path, int):
                raise TypeError(f"{function.__name__}: path should be string, bytes or os.PathLike, not int")
            return function(path, *args, **kwargs)
        return call

    os.scandir = path_only(os.scandir)
    os.listdir = path_only(os.listdir)

    for name in ("epoll", "poll", "devpoll", "kqueue"):
        if hasattr(select, name):
            delattr(select, name)
    ORIGINAL_SELECT = select.select

    def sockets_only_select(*lists):
        for fd in [item for group in lists[:3] for item in group]:
            number = fd if isinstance(fd, int) else fd.fileno()
            if not stat.S_ISSOCK(os.fstat(number).st_mode):
                raise OSError(errno.ENOTSOCK, "An operation was attempted on something that is not a socket")
        return ORIGINAL_SELECT(*lists)

    select.select = sockets_only_select

    for name in ("clock_gettime", "clock_gettime_ns", "clock_settime", "clock_settime_ns", "pthread_getcpuclockid"):
        if hasattr(time, name):
            delattr(time, name)

    WINDOWS_SIGNALS = {"SIGABRT", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM", "SIG_DFL", "SIG_IGN"}
    for name in [n for n in dir(signal) if n.startswith("SIG") and n not in WINDOWS_SIGNALS
                 and n not in ("Signals", "Handlers", "Sigmasks")]:
        delattr(signal, name)
    for name in ("alarm", "pause", "setitimer", "getitimer", "siginterrupt", "pthread_kill", "pthread_sigmask",
                 "sigpending", "sigwait", "sigwaitinfo", "sigtimedwait", "pidfd_send_signal"):
        if hasattr(signal, name):
            delattr(signal, name)
    del name
''')

#: runs the request file's programs with platform="emu"; writes their results, and the
#: modules the interpreter loaded, to the result file
RUNNER = textwrap.dedent(r'''
    import base64, json, sys
    request_path, result_path = sys.argv[1:3]
    with open(request_path) as f:
        request = json.load(f)
    import slimbox
    results = {}
    for case, run in request.items():
        try:
            result = slimbox.run(run["argv"], env=run["env"], capture_output=True, mounts=run["mounts"],
                                 cwd="/tmp", timeout=run["timeout"], platform="emu",
                                 input=None if run["input"] is None else base64.b64decode(run["input"]))
        except BaseException as exc:
            import traceback
            results[case] = {"error": "".join(traceback.format_exception(exc)[-6:])}
            continue
        results[case] = {"returncode": result.returncode, "stdout": base64.b64encode(result.stdout).decode(),
                         "stderr": base64.b64encode(result.stderr).decode()}
    with open(result_path, "w") as f:
        json.dump({"results": results, "modules": sorted(sys.modules)}, f)
''')

#: each way of reaching the host that STARTUP takes away, tried: "refused" or what happened
CHECKS = textwrap.dedent(r'''
    import json, os, select, signal, sys, time
    outcomes = {}

    def attempt(name, action):
        try:
            action()
        except (ImportError, OSError, NotImplementedError, TypeError, AttributeError):
            outcomes[name] = "refused"
        except BaseException as exc:
            outcomes[name] = f"{type(exc).__name__}: {exc}"
        else:
            outcomes[name] = "allowed"

    for module in ("fcntl", "termios", "pty", "resource"):
        attempt(f"import {module}", lambda: __import__(module))
    import ctypes, ctypes.util
    attempt("ctypes.CDLL(None)", lambda: ctypes.CDLL(None))
    attempt("ctypes.CDLL(libc.so.6)", lambda: ctypes.CDLL("libc.so.6"))
    attempt("ctypes.cdll.LoadLibrary(libc)", lambda: ctypes.cdll.LoadLibrary("/lib/x86_64-linux-gnu/libc.so.6"))
    attempt("ctypes.util.find_library(c)", lambda: ctypes.CDLL(ctypes.util.find_library("c")))
    attempt("os.fork", lambda: os.fork)
    attempt("os.forkpty", lambda: os.forkpty)
    attempt("os.register_at_fork", lambda: os.register_at_fork)
    attempt("os.pread", lambda: os.pread)
    attempt("dir_fd", lambda: os.stat("x", dir_fd=os.open(".", os.O_RDONLY)))
    outcomes["os.supports_dir_fd"] = "allowed" if os.supports_dir_fd else "refused"
    attempt("os.scandir(fd)", lambda: os.scandir(os.open(".", os.O_RDONLY)))
    attempt("select.epoll", lambda: select.epoll)
    attempt("select on a pipe", lambda: select.select([os.pipe()[0]], [], [], 0))
    attempt("signal.SIGHUP", lambda: signal.SIGHUP)
    attempt("time.clock_gettime_ns", lambda: time.clock_gettime_ns)
    import unicorn
    from unicorn import x86_const
    cpu = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_64)
    cpu.mem_map(0x1000, 0x1000)
    cpu.mem_write(0x1000, b"\x48\xc7\xc0\x2a\x00\x00\x00")  # mov rax, 42
    cpu.emu_start(0x1000, 0x1007)
    outcomes["unicorn runs"] = cpu.reg_read(x86_const.UC_X86_REG_RAX)
    print(json.dumps(outcomes))
''')


def _interpreter(code: str, *args: str, input: bytes | None = None, timeout: float) -> subprocess.CompletedProcess:
    """A fresh interpreter running STARTUP, then `code`, with the project's sources on its path."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONDONTWRITEBYTECODE": "1"}
    # a run that hangs ends with every thread's stack on stderr, shown by the failing test
    watchdog = f"import faulthandler\nfaulthandler.dump_traceback_later({timeout - 15}, exit=True)\n"
    return subprocess.run([sys.executable, "-c", STARTUP + watchdog + code, *args], input=input,
                          capture_output=True, env=env, timeout=timeout, cwd=str(HERE))


@pytest.fixture(scope="module")
def unicorn_installed():
    pytest.importorskip("unicorn", reason="unicorn is not installed: pip install '.[emu]'")


# --- the programs ------------------------------------------------------------------

SHELL_SCRIPT = ("echo start; for i in 1 2 3; do echo line $i; done | sort -r; x=$(echo sub); echo \"[$x]\"; "
                "mkdir d && echo data > d/f && cat d/f && ls d; wc -c < d/f; echo to stderr >&2; exit 4")
STDIN_DATA = bytes(range(256)) * 64
#: Debian's python3: hundreds of files from the host's /usr through the portable host directories
PYTHON_PROGRAM = ("import json, os, sys, hashlib; print(json.dumps({'version': sys.version_info[:2], "
                  "'squares': [i * i for i in range(10)], 'sha': hashlib.sha256(b'x').hexdigest()[:12], "
                  "'cwd': os.path.basename(os.getcwd()) != ''}))")

#: case name -> (argv relative to the probes, or absolute; environment; input)
CASES = {
    "hello": (["hello"], None, None),
    "files": (["files"], None, None),
    "mm": (["mm"], None, None),
    "time": (["time"], None, None),
    "random_uname": (["random_uname"], None, None),
    "argv_env_auxv": (["argv_env_auxv", "a", "b c", ""],
                      {"PATH": "/usr/bin:/bin", "PROBE_B": "two words", "PROBE_A": "1", "OTHER": "x"}, None),
    "exit_status-0": (["exit_status", "0"], None, None),
    "exit_status-3": (["exit_status", "3"], None, None),
    "exit_status-kill": (["exit_status", "kill"], None, None),
    "stdin_echo": (["stdin_echo"], None, STDIN_DATA),
    "memfd": (["memfd"], None, None),
    "signals": (["signals"], None, None),
    "forkexec": (["forkexec"], None, None),
    "epoll": (["epoll"], None, None),
    "unix_sockets": (["unix_sockets"], None, None),
    "hello.dyn": (["hello.dyn"], None, None),
    "busybox_sh": (["/bin/busybox", "sh", "-c", SHELL_SCRIPT], None, None),
    "python3": (["/usr/bin/python3", "-c", PYTHON_PROGRAM], None, None),
}
#: read from the interpreter's own standard input (a pipe), through the host stream
INHERITED_STDIN_CASE = "stdin_echo-inherited"


def _argv(probes, words: list[str], native: bool) -> list[str]:
    if words[0].startswith("/"):
        return words
    return [str(probes / words[0]) if native else f"{GUEST_DIR}/{words[0]}", *words[1:]]


def _request(probes, cases: dict) -> dict:
    return {name: {"argv": _argv(probes, words, native=False), "env": ENV if env is None else env,
                   "input": None if data is None else base64.b64encode(data).decode(),
                   "mounts": [f"{probes}:{GUEST_DIR}:ro"], "timeout": 240}
            for name, (words, env, data) in cases.items()}


def _run_emu(tmp_path, request: dict, input: bytes | None = None) -> dict:
    request_file, result_file = tmp_path / "request.json", tmp_path / "result.json"
    request_file.write_text(json.dumps(request))
    proc = _interpreter(RUNNER, str(request_file), str(result_file), input=input,
                        timeout=60 + 240 * len(request))
    if proc.returncode != 0 or not result_file.exists():
        pytest.fail(f"the emu interpreter failed ({proc.returncode}):\n{proc.stderr.decode(errors='replace')}")
    return json.loads(result_file.read_text())


@pytest.fixture(scope="module")
def emu_results(unicorn_installed, probes, tmp_path_factory) -> dict:
    """Every case run once, in one fresh interpreter (its stdin the test's own)."""
    return _run_emu(tmp_path_factory.mktemp("portability"), _request(probes, CASES))


def _outcome(result: dict) -> tuple[int, str, str]:
    if "error" in result:
        pytest.fail(f"slimbox.run raised:\n{result['error']}")
    return (result["returncode"], base64.b64decode(result["stdout"]).decode(errors="replace"),
            base64.b64decode(result["stderr"]).decode(errors="replace"))


def _native(probes, tmp_path, case: str) -> tuple[int, str, str]:
    words, env, data = CASES[case] if case in CASES else (["stdin_echo"], None, STDIN_DATA)
    native = run_native(_argv(probes, words, native=True), env=env, input=data, cwd=str(tmp_path))
    return native.returncode, native.stdout.decode(errors="replace"), native.stderr.decode(errors="replace")


@pytest.mark.parametrize("case", list(CASES))
def test_emu_without_linux_host_calls_matches_native(emu_results, probes, tmp_path, case):
    returncode, stdout, stderr = _outcome(emu_results["results"][case])
    native_returncode, native_stdout, native_stderr = _native(probes, tmp_path, case)
    assert stdout == native_stdout
    assert stderr == native_stderr
    assert returncode == native_returncode


def test_emu_reads_inherited_stdin_without_select(unicorn_installed, probes, tmp_path):
    """The host stream path: the interpreter's own stdin is a pipe, which select() here
    refuses (as Windows does), so the stream reads it through its reader thread."""
    request = _request(probes, {INHERITED_STDIN_CASE: (["stdin_echo"], None, None)})
    result = _run_emu(tmp_path, request, input=STDIN_DATA)["results"][INHERITED_STDIN_CASE]
    assert _outcome(result) == _native(probes, tmp_path, INHERITED_STDIN_CASE)


#: the command line, as the README has it for Windows and macOS
CLI = "import sys\nfrom slimbox.cli import main\nsys.exit(main(sys.argv[1:]))"
CLI_SCRIPT = "read first; echo \"first: $first\"; wc -c; echo done >&2; exit 3"
CLI_INPUT = b"line one\n" + b"more input\n" * 1000
BUSYBOX = "/bin/busybox"


def _rootfs(tmp_path, kind: str) -> str:
    """A root holding only a static busybox (so /bin/sh can come from nowhere else), as a
    directory or a tar archive."""
    import shutil
    import tarfile

    tree = tmp_path / "rootfs"
    (tree / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, tree / "bin" / "busybox")
    for applet in ("sh", "wc"):
        os.symlink("busybox", tree / "bin" / applet)
    (tree / "tmp").mkdir()
    if kind == "dir":
        return str(tree)
    archive = tmp_path / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(tree, arcname=".")
    return str(archive)


@pytest.mark.parametrize("kind", ["tar", "dir"])
def test_the_command_line_runs_a_program_from_a_rootfs(unicorn_installed, tmp_path, kind):
    """`slimbox run --platform emu --rootfs ROOT -- /bin/sh -c ...` in that interpreter,
    its stdin a pipe (read through the reader thread), its output going straight to the
    interpreter's own stdout and stderr, against busybox run natively."""
    if not os.path.exists(BUSYBOX):
        pytest.fail(f"{BUSYBOX} is missing: run `make deps` (Debian: busybox-static)")
    sandboxed = _interpreter(CLI, "run", "--platform", "emu", "--rootfs", _rootfs(tmp_path, kind), "--",
                             "/bin/sh", "-c", CLI_SCRIPT, input=CLI_INPUT, timeout=300)
    native = subprocess.run([BUSYBOX, "sh", "-c", CLI_SCRIPT], input=CLI_INPUT, capture_output=True, timeout=60,
                            env=ENV)
    assert native.stdout == b"first: line one\n11000\n"
    assert sandboxed.stdout == native.stdout, sandboxed.stderr.decode(errors="replace")
    assert sandboxed.stderr == native.stderr == b"done\n"
    assert sandboxed.returncode == native.returncode == 3


def test_blocking_is_in_force(unicorn_installed):
    """Each Linux-only module and call is really unavailable in that interpreter (so the
    test above cannot pass by not blocking), and unicorn still runs code there."""
    proc = _interpreter(CHECKS, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    outcomes = json.loads(proc.stdout)
    assert outcomes.pop("unicorn runs") == 42
    assert outcomes == {name: "refused" for name in outcomes}
    assert len(outcomes) == 19  # every attempt above reported


def test_emu_run_never_loads_the_linux_platform(emu_results):
    modules = emu_results["modules"]
    assert "slimbox.platforms.emu.host" in modules
    assert [m for m in modules if m.startswith("slimbox.platforms.linux")] == []
    assert [m for m in modules if m in ("fcntl", "termios", "pty", "resource", "_posixshmem")] == []
