"""/proc through the VFS, over a real Kernel with fake guest processes."""

from __future__ import annotations

import re

import pytest

from _procfake import Current, add_thread, make_kernel, spawn
from slimbox.kernel.exit import reap
from slimbox.kernel.signals import Action
from slimbox.abi.errno import Errno
from slimbox.kernel.cred import Credentials
from slimbox.kernel.file import O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY
from slimbox.kernel.fs.devfs import DevFs
from slimbox.kernel.fs.inode import S_IFDIR, S_IFLNK, S_IFMT, S_IFREG
from slimbox.kernel.fs.memfs import MemFs
from slimbox.kernel.fs.procfs import ProcFs, cpus_allowed_mask
from slimbox.kernel.stdio import InputFile

ARGV = [b"/usr/bin/python3", b"-c", b"print('hi there')", b""]
ENVP = [b"PATH=/usr/bin:/bin", b"HOME=/root", b"LANG=C.UTF-8"]


class World:
    """A sandbox with /proc, /dev and /tmp mounted and two guest processes."""

    def __init__(self, sandbox) -> None:
        self.box = sandbox
        self.kernel = make_kernel(sandbox)
        self.host = self.kernel.host
        self.current = Current()
        self.proc = ProcFs(sandbox.new_dev(), self.kernel, self.current)
        sandbox.mount(self.proc, self.proc.root, b"/proc")
        self.dev = DevFs(sandbox.new_dev(), sandbox.clock, self.kernel.random_bytes)
        sandbox.mount(self.dev, self.dev.root, b"/dev")
        tmp = MemFs(sandbox.new_dev(), sandbox.clock)
        sandbox.mount(tmp, tmp.root, b"/tmp")
        sandbox.makedirs(b"/usr/bin")
        sandbox.write(b"/usr/bin/python3", b"\x7fELF not really")
        self.init = spawn(self.kernel, sandbox, [b"/sbin/init"], [b"TERM=linux"])
        self.init.exe = None
        self.child = spawn(self.kernel, sandbox, ARGV, ENVP, parent=self.init, cpu_ns=2_500_000_000)
        self.child.exe = sandbox.node(b"/usr/bin/python3")
        self.current.task = self.child.leader()

    def read(self, path: bytes) -> bytes:
        return self.box.read(path)

    def text(self, path: bytes) -> str:
        return self.read(path).decode()

    def pid_path(self, process, rest: bytes) -> bytes:
        return b"/proc/%d/%s" % (process.pid, rest)


@pytest.fixture
def world(sandbox):
    return World(sandbox)


def status_fields(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":\t")
        fields[name] = value
    return fields


# --- self and pid directories ----------------------------------------------------------


def test_self_resolves_to_the_current_pid(world):
    box = world.box
    assert box.readlink(b"/proc/self") == str(world.child.pid).encode()
    assert box.stat(b"/proc/self").ino == box.stat(b"/proc/%d" % world.child.pid).ino
    assert box.read(b"/proc/self/comm") == b"python3\n"
    world.current.task = world.init.leader()
    assert box.readlink(b"/proc/self") == str(world.init.pid).encode()
    assert box.read(b"/proc/self/comm") == b"init\n"


def test_self_without_a_current_task_is_enoent(world):
    world.current.task = None
    assert world.box.errno(world.box.readlink, b"/proc/self") == Errno.ENOENT
    assert world.box.errno(world.box.stat, b"/proc/self/status") == Errno.ENOENT


def test_thread_self_names_the_calling_thread(world):
    thread = add_thread(world.kernel, world.child)
    world.current.task = thread
    assert world.box.readlink(b"/proc/thread-self") == b"%d/task/%d" % (world.child.pid, thread.tid)
    status = status_fields(world.text(b"/proc/thread-self/status"))
    assert status["Pid"] == str(thread.tid) and status["Tgid"] == str(world.child.pid)


def test_root_lists_global_entries_and_every_live_process(world):
    names = world.box.listdir(b"/proc")
    for name in (b"self", b"thread-self", b"cpuinfo", b"meminfo", b"uptime", b"version", b"loadavg", b"stat",
                 b"filesystems", b"mounts", b"sys"):
        assert name in names
    pids = sorted(int(n) for n in names if n.isdigit())
    assert pids == sorted(world.kernel.processes)
    entries = world.box.entries(b"/proc")
    assert entries[str(world.child.pid).encode()].ino == world.box.stat(b"/proc/%d" % world.child.pid).ino


def test_pid_directory_contents_and_attributes(world):
    box, child = world.box, world.child
    names = box.listdir(b"/proc/%d" % child.pid)
    for name in (b"exe", b"cwd", b"root", b"fd", b"fdinfo", b"cmdline", b"environ", b"comm", b"maps", b"status",
                 b"stat", b"statm", b"task", b"mounts", b"mountinfo", b"limits", b"oom_score_adj"):
        assert name in names
    st = box.stat(b"/proc/%d" % child.pid)
    assert st.mode & S_IFMT == S_IFDIR and st.mode & 0o777 == 0o555 and st.nlink >= 5
    status = box.stat(world.pid_path(child, b"status"))
    assert status.mode & S_IFMT == S_IFREG and status.mode & 0o777 == 0o444 and status.size == 0
    assert box.stat(world.pid_path(child, b"exe"), follow=False).mode & S_IFMT == S_IFLNK


def test_pid_entries_are_owned_by_the_process_effective_ids(world):
    user = spawn(world.kernel, world.box, [b"sh"], cred=Credentials(1000, 1001, 1000, 1001, 50, 51, 50, 51))
    for rest in (b"", b"status", b"fd", b"exe"):
        st = world.box.stat(world.pid_path(user, rest), follow=False)
        assert (st.uid, st.gid) == (1001, 51)


def test_inode_numbers_are_stable_and_distinct(world):
    box = world.box
    paths = [b"/proc", b"/proc/uptime", b"/proc/sys/kernel/hostname", world.pid_path(world.child, b"status"),
             world.pid_path(world.init, b"status"), world.pid_path(world.child, b"fd")]
    first = [box.stat(p).ino for p in paths]
    assert first == [box.stat(p).ino for p in paths]
    assert len(set(first)) == len(first)
    assert box.stat(b"/proc").ino == 1


def test_cmdline_and_environ_come_from_guest_memory(world):
    assert world.read(world.pid_path(world.child, b"cmdline")) == b"".join(a + b"\0" for a in ARGV)
    assert world.read(world.pid_path(world.child, b"environ")) == b"".join(e + b"\0" for e in ENVP)
    assert world.read(world.pid_path(world.init, b"cmdline")) == b"/sbin/init\0"
    world.child.mm.write(world.child.mm.arg_start, b"/usr/bin/PYTHON3")
    assert world.read(b"/proc/self/cmdline").startswith(b"/usr/bin/PYTHON3\0")


def test_cmdline_of_an_exiting_process_is_empty(world):
    world.child.exiting = True
    assert world.read(world.pid_path(world.child, b"cmdline")) == b""


def test_environ_is_private_to_the_owner(world):
    assert world.box.stat(world.pid_path(world.child, b"environ")).mode & 0o777 == 0o400
    user = spawn(world.kernel, world.box, [b"sh"], [b"SECRET=1"], cred=Credentials.of(1000, 1000))
    world.box.cred = Credentials.of(1000, 1000)
    assert world.read(world.pid_path(user, b"environ")) == b"SECRET=1\0"
    world.box.cred = Credentials.of(2000, 2000)
    assert world.box.errno(world.read, world.pid_path(user, b"environ")) == Errno.EACCES
    assert world.box.errno(world.box.listdir, world.pid_path(user, b"fd")) == Errno.EACCES
    assert world.read(world.pid_path(user, b"cmdline")) == b"sh\0"


# --- file descriptors ------------------------------------------------------------------------


def test_fd_lists_open_descriptors_and_links_to_their_paths(world):
    box, child = world.box, world.child
    box.write(b"/tmp/x", b"contents of x")
    child.fds.install(InputFile(b"in"))
    child.fds.install(box.open(b"/dev/null", O_WRONLY))
    child.fds.install_at(5, box.open(b"/tmp/x", O_RDWR), cloexec=True)
    fd_dir = world.pid_path(child, b"fd")
    assert box.listdir(fd_dir) == [b"0", b"1", b"5"]
    assert box.readlink(fd_dir + b"/0") == b"pipe:[input]"
    assert box.readlink(fd_dir + b"/1") == b"/dev/null"
    assert box.readlink(fd_dir + b"/5") == b"/tmp/x"
    assert box.readlink(b"/proc/self/fd/5") == b"/tmp/x"
    # following the link reaches the open file's path
    assert box.read(fd_dir + b"/5") == b"contents of x"
    assert box.stat(fd_dir + b"/5").ino == box.stat(b"/tmp/x").ino
    modes = {name: box.stat(fd_dir + b"/" + name, follow=False).mode & 0o777 for name in (b"0", b"1", b"5")}
    assert modes == {b"0": 0o500, b"1": 0o300, b"5": 0o700}
    assert box.errno(box.readlink, fd_dir + b"/7") == Errno.ENOENT


def test_dev_stdin_reaches_the_file_on_descriptor_zero(world):
    box = world.box
    box.write(b"/tmp/input", b"from a file\n")
    world.child.fds.install(box.open(b"/tmp/input"))
    assert box.read(b"/dev/stdin") == b"from a file\n"
    assert box.readlink(b"/dev/fd/0") == b"/tmp/input"


def test_fd_link_of_a_closed_descriptor_goes_away(world):
    box, child = world.box, world.child
    box.write(b"/tmp/y", b"y")
    fd = child.fds.install(box.open(b"/tmp/y"))
    link = box.node(world.pid_path(child, b"fd/%d" % fd), follow=False).inode
    child.fds.close(fd)
    assert box.errno(link.readlink) == Errno.ENOENT
    assert box.listdir(world.pid_path(child, b"fd")) == []


def test_fdinfo_shows_position_flags_and_mount(world):
    box, child = world.box, world.child
    box.write(b"/tmp/z", b"0123456789")
    file = box.open(b"/tmp/z", O_RDWR)
    file.read(None, 4)
    fd = child.fds.install(file, cloexec=True)
    info = world.text(world.pid_path(child, b"fdinfo/%d" % fd))
    lines = dict(line.split(":\t") for line in info.splitlines())
    assert lines["pos"] == "4"
    assert int(lines["flags"], 8) == O_RDWR | 0o100000 | 0o2000000
    assert lines["flags"].startswith("0")
    mount_id = int(lines["mnt_id"])
    tmp_line = [line for line in world.text(b"/proc/self/mountinfo").splitlines() if line.split()[4] == "/tmp"]
    assert int(tmp_line[0].split()[0]) == mount_id
    assert int(lines["ino"]) == box.stat(b"/tmp/z").ino


# --- status, stat, statm -------------------------------------------------------------------------


def test_status_has_the_right_identity(world):
    child = world.child
    fields = status_fields(world.text(world.pid_path(child, b"status")))
    assert fields["Name"] == "python3"
    assert fields["Pid"] == fields["Tgid"] == str(child.pid)
    assert fields["PPid"] == str(world.init.pid)
    assert fields["Uid"] == "0\t0\t0\t0" and fields["Gid"] == "0\t0\t0\t0"
    assert fields["State"] == "R (running)"
    assert fields["Umask"] == "0022"
    assert fields["Threads"] == "1"
    assert fields["TracerPid"] == "0" and fields["Seccomp"] == "0"
    assert fields["CapEff"] == "000001ffffffffff"
    assert fields["Cpus_allowed_list"] == "0-1"
    for name in ("SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt", "CapInh", "CapPrm", "CapBnd", "CapAmb"):
        assert re.fullmatch(r"[0-9a-f]{16}", fields[name]), name
    for name in ("VmPeak", "VmSize", "VmRSS", "VmStk"):
        assert re.fullmatch(r" *\d+ kB", fields[name]), name
    assert int(fields["VmSize"].split()[0]) == child.mm.total_mapped() // 1024
    assert int(fields["VmStk"].split()[0]) == 64
    assert list(fields)[:6] == ["Name", "Umask", "State", "Tgid", "Ngid", "Pid"]


def test_status_of_an_unprivileged_process(world):
    cred = Credentials(1000, 1001, 1002, 1003, 100, 101, 102, 103, (4, 24))
    user = spawn(world.kernel, world.box, [b"sh"], cred=cred)
    user.fs.umask = 0o077
    user.leader().sigmask = 1 << 1
    user.sigactions = {15: Action(1), 10: Action(0x401000)}
    user.leader().parked = True
    fields = status_fields(world.text(world.pid_path(user, b"status")))
    assert fields["Uid"] == "1000\t1001\t1002\t1003"
    assert fields["Gid"] == "100\t101\t102\t103"
    assert fields["Groups"] == "4 24 "
    assert fields["Umask"] == "0077"
    assert fields["State"] == "S (sleeping)"
    assert fields["PPid"] == "0"
    assert fields["CapEff"] == "0" * 16
    assert int(fields["SigBlk"], 16) == 2
    assert int(fields["SigIgn"], 16) == 1 << 14
    assert int(fields["SigCgt"], 16) == 1 << 9


def split_stat(text: str) -> list[str]:
    """The fields of a stat line; the comm may hold spaces and parentheses."""
    head, _, tail = text.rstrip("\n").rpartition(")")
    pid, _, comm = head.partition(" (")
    return [pid, f"({comm})"] + tail.split()


def test_stat_has_52_fields_with_real_values(world):
    child = world.child
    world.host.advance(3_000_000_000)
    fields = split_stat(world.text(world.pid_path(child, b"stat")))
    assert len(fields) == 52
    assert fields[0] == str(child.pid)
    assert fields[1] == "(python3)"
    assert fields[2] == "R"
    assert fields[3] == str(world.init.pid)
    assert fields[4] == str(child.pgid) and fields[5] == str(child.sid)
    assert int(fields[13]) == 250  # 2.5 s of CPU at 100 ticks a second
    assert int(fields[19]) == 1  # num_threads
    assert int(fields[21]) == 0  # started at boot in this world
    assert int(fields[22]) == child.mm.total_mapped()
    assert int(fields[23]) == child.mm.total_mapped() // 4096
    assert int(fields[47]) == child.mm.arg_start and int(fields[48]) == child.mm.arg_end
    assert int(fields[49]) == child.mm.env_start and int(fields[50]) == child.mm.env_end
    assert all(re.fullmatch(r"-?\d+", f) for f in fields[3:]), fields


def test_stat_keeps_odd_comm_intact(world):
    world.child.comm = b"a) b (c"
    fields = split_stat(world.text(b"/proc/self/stat"))
    assert len(fields) == 52 and fields[1] == "(a) b (c)"


def test_starttime_counts_ticks_since_boot(world):
    world.host.advance(1_230_000_000)
    late = spawn(world.kernel, world.box, [b"late"])
    fields = split_stat(world.text(world.pid_path(late, b"stat")))
    assert int(fields[21]) == 123


def test_statm_has_seven_page_counts(world):
    values = world.text(world.pid_path(world.child, b"statm")).split()
    assert len(values) == 7
    assert int(values[0]) == world.child.mm.total_mapped() // 4096


def test_task_directory_has_one_entry_per_thread(world):
    child = world.child
    thread = add_thread(world.kernel, child, cpu_ns=1_000_000_000)
    tasks = world.box.listdir(world.pid_path(child, b"task"))
    assert tasks == sorted([str(child.pid).encode(), str(thread.tid).encode()])
    base = world.pid_path(child, b"task/%d/" % thread.tid)
    assert world.read(base + b"comm") == b"python3\n"
    fields = split_stat(world.text(base + b"stat"))
    assert fields[0] == str(thread.tid) and int(fields[13]) == 100 and int(fields[19]) == 2
    assert fields[37] == "-1"  # a thread does not signal its parent
    assert status_fields(world.text(base + b"status"))["Pid"] == str(thread.tid)
    assert b"task" not in world.box.listdir(base)
    # the whole group's CPU time is in the process's own stat
    assert int(split_stat(world.text(world.pid_path(child, b"stat")))[13]) == 350
    # /proc/TID works for a thread that is not listed at the top
    assert str(thread.tid).encode() not in world.box.listdir(b"/proc")
    assert status_fields(world.text(b"/proc/%d/status" % thread.tid))["Tgid"] == str(child.pid)


# --- links and other per-process files --------------------------------------------------------


def test_exe_cwd_and_root_links(world):
    box, child = world.box, world.child
    assert box.readlink(world.pid_path(child, b"exe")) == b"/usr/bin/python3"
    assert box.readlink(world.pid_path(child, b"cwd")) == b"/"
    assert box.readlink(world.pid_path(child, b"root")) == b"/"
    child.fs.cwd = box.node(b"/tmp")
    assert box.readlink(world.pid_path(child, b"cwd")) == b"/tmp"
    assert box.errno(box.readlink, world.pid_path(world.init, b"exe")) == Errno.ENOENT
    assert box.read(b"/proc/self/exe") == b"\x7fELF not really"


def test_links_are_printed_relative_to_the_readers_root(world):
    box, child = world.box, world.child
    box.makedirs(b"/jail/bin")
    box.write(b"/jail/bin/tool", b"tool")
    child.exe = box.node(b"/jail/bin/tool")
    child.fs.root = box.node(b"/jail")
    assert box.readlink(world.pid_path(child, b"exe")) == b"/bin/tool"
    assert box.readlink(world.pid_path(child, b"root")) == b"/"
    world.current.task = world.init.leader()
    assert box.readlink(world.pid_path(child, b"exe")) == b"/jail/bin/tool"
    assert box.readlink(world.pid_path(child, b"root")) == b"/jail"


def test_maps_comm_limits_and_oom_score_adj(world):
    child = world.child
    assert world.read(world.pid_path(child, b"maps")) == child.mm.maps_text()
    assert b"[stack]" in world.read(world.pid_path(child, b"maps"))
    assert world.read(world.pid_path(child, b"oom_score_adj")) == b"0\n"
    limits = world.text(world.pid_path(child, b"limits")).splitlines()
    assert len(limits) == 17
    assert limits[0].split() == ["Limit", "Soft", "Limit", "Hard", "Limit", "Units"]
    stack = next(line for line in limits if line.startswith("Max stack size"))
    assert stack.split()[3:] == ["8388608", "unlimited", "bytes"]
    files = next(line for line in limits if line.startswith("Max open files"))
    assert files.split()[3:] == ["1024", "1048576", "files"]
    assert limits[1].index("unlimited") == 26


# --- mounts --------------------------------------------------------------------------------------


def test_mounts_list_every_mount(world):
    lines = [line.split() for line in world.text(b"/proc/mounts").splitlines()]
    by_point = {fields[1]: fields for fields in lines}
    assert set(by_point) == {"/", "/proc", "/dev", "/tmp"}
    assert by_point["/proc"][2] == "proc" and by_point["/dev"][2] == "devtmpfs"
    assert by_point["/tmp"][2] == "tmpfs" and by_point["/"][0] == "rootfs"
    assert all(fields[3].split(",")[0] in ("rw", "ro") and fields[4:] == ["0", "0"] for fields in lines)
    assert world.box.readlink(b"/proc/mounts") == b"self/mounts"


def test_mount_options_name_the_access_once(world):
    world.box.makedirs(b"/mnt/opts")
    fs = MemFs(99, lambda: 0)
    world.box.vfs.mount(fs, fs.root, world.box.node(b"/mnt/opts"), readonly=True, source="none",
                        options="rw,nosuid")
    line = next(line for line in world.text(b"/proc/mounts").splitlines() if " /mnt/opts " in line)
    assert line == "none /mnt/opts tmpfs ro,nosuid 0 0"  # the mount's own access, not its options' "rw"


def test_mountinfo_is_well_formed(world):
    lines = [line.split() for line in world.text(b"/proc/self/mountinfo").splitlines()]
    ids = {int(fields[0]) for fields in lines}
    assert len(ids) == len(lines) == 4
    for fields in lines:
        assert re.fullmatch(r"\d+:\d+", fields[2]) and fields[3] == "/"
        separator = fields.index("-")
        assert fields[separator + 1] in ("tmpfs", "proc", "devtmpfs")
        if fields[4] != "/":
            assert int(fields[1]) in ids
    proc = next(fields for fields in lines if fields[4] == "/proc")
    assert proc[2] == f"0:{world.proc.dev}"


def test_mounts_of_a_chrooted_process_show_only_what_it_can_see(world):
    box = world.box
    box.makedirs(b"/jail/proc")
    jail_proc = ProcFs(box.new_dev(), world.kernel, world.current)
    box.mount(jail_proc, jail_proc.root, b"/jail/proc")
    world.child.fs.root = box.node(b"/jail")
    lines = [line.split() for line in world.text(world.pid_path(world.child, b"mounts")).splitlines()]
    assert [fields[1] for fields in lines] == ["/proc"]


def test_mount_paths_with_spaces_are_escaped(world):
    box = world.box
    fs = MemFs(box.new_dev(), box.clock)
    box.mount(fs, fs.root, b"/mnt/my disk")
    assert "/mnt/my\\040disk" in world.text(b"/proc/mounts")


# --- processes that are gone ------------------------------------------------------------------------


def test_a_zombie_shows_until_reaped_then_is_enoent(world):
    box, child = world.box, world.child
    pid_dir = box.node(b"/proc/%d" % child.pid).inode
    world.current.task = world.init.leader()
    world.kernel.exit_process(child, 0)
    assert b"State:\tZ (zombie)" in box.read(b"/proc/%d/status" % child.pid)
    reap(world.kernel, child)
    assert child.pid not in world.kernel.processes
    assert box.errno(box.stat, b"/proc/%d" % child.pid) == Errno.ENOENT
    assert box.errno(box.read, b"/proc/%d/status" % child.pid) == Errno.ENOENT
    assert box.errno(pid_dir.lookup, b"status") == Errno.ENOENT
    assert box.errno(pid_dir.entries) == Errno.ENOENT
    assert str(child.pid).encode() not in box.listdir(b"/proc")


def test_an_open_file_keeps_its_snapshot(world):
    file = world.box.open(world.pid_path(world.child, b"status"))
    world.kernel.exit_process(world.child, 0)
    assert file.read(None, 6) == b"Name:\t"


# --- writes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [b"/proc/uptime", b"/proc/self/status", b"/proc/self/comm",
                                  b"/proc/sys/kernel/hostname", b"/proc/self/oom_score_adj"])
def test_proc_files_cannot_be_written(world, path):
    box = world.box
    for flags in (O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC):
        assert box.errno(box.open, path, flags) == Errno.EACCES
    assert box.errno(box.truncate, path, 0) == Errno.EACCES
    box.cred = Credentials.of(1000, 1000)
    assert box.errno(box.open, path, O_WRONLY) == Errno.EACCES


def test_proc_tree_cannot_be_changed(world):
    box = world.box
    assert box.errno(box.open, b"/proc/newfile", O_WRONLY | O_CREAT) == Errno.EACCES
    assert box.errno(box.mkdir, b"/proc/newdir") == Errno.EPERM
    assert box.errno(box.unlink, b"/proc/uptime") == Errno.EPERM
    assert box.errno(box.rmdir, b"/proc/sys") == Errno.EPERM
    assert box.errno(box.symlink, b"x", b"/proc/link") == Errno.EPERM
    assert box.errno(box.rename, b"/proc/uptime", b"/proc/downtime") == Errno.EPERM
    assert box.errno(box.chmod, b"/proc/uptime", 0o666) == Errno.EPERM


def test_reads_use_normal_offsets(world):
    file = world.box.open(b"/proc/version")
    whole = world.read(b"/proc/version")
    assert file.read(None, 6) == whole[:6]
    assert file.read(None, 1 << 16) == whole[6:]
    assert file.read(None, 10) == b""
    assert file.pread(5, 8) == whole[8:13]
    file.seek(0, 0)
    assert file.read(None, 1 << 16) == whole


# --- global files -------------------------------------------------------------------------------------


def test_uptime_increases(world):
    first = [float(v) for v in world.text(b"/proc/uptime").split()]
    world.host.advance(1_500_000_000)
    second = [float(v) for v in world.text(b"/proc/uptime").split()]
    assert len(first) == len(second) == 2
    assert second[0] == pytest.approx(first[0] + 1.5)
    assert second[1] >= first[1] >= 0
    assert re.fullmatch(r"\d+\.\d\d \d+\.\d\d\n", world.text(b"/proc/uptime"))


def test_meminfo_parses(world):
    values = {}
    for line in world.text(b"/proc/meminfo").splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_()]+):\s+(\d+)( kB)?", line)
        assert match, line
        if len(match.group(2)) <= 5:
            assert len(line.removesuffix(" kB")) == 24, line
        values[match.group(1)] = int(match.group(2))
    assert values["MemTotal"] == (1 << 30) // 1024
    assert 0 < values["MemFree"] <= values["MemTotal"]
    assert values["MemAvailable"] <= values["MemTotal"]
    assert values["SwapTotal"] == 0
    for name in ("Buffers", "Cached", "Shmem", "HugePages_Total", "Hugepagesize"):
        assert name in values
    assert world.text(b"/proc/meminfo").startswith("MemTotal:        1048576 kB\n")


def test_cpuinfo_parses(world):
    blocks = [b for b in world.text(b"/proc/cpuinfo").split("\n\n") if b.strip()]
    assert len(blocks) == world.kernel.config.cpu_count == 2
    for index, block in enumerate(blocks):
        fields = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            assert sep, line
            fields[key.strip()] = value.strip()
        assert fields["processor"] == str(index)
        assert fields["model name"] == "slimbox virtual CPU"
        assert fields["siblings"] == fields["cpu cores"] == "2"
        assert fields["clflush size"] == "64" and fields["cache_alignment"] == "64"
        assert "48 bits virtual" in fields["address sizes"]
        flags = fields["flags"].split()
        for flag in ("fpu", "sse2", "lm", "syscall", "nx", "sse4_2", "avx", "hypervisor"):
            assert flag in flags
        float(fields["cpu MHz"]), float(fields["bogomips"])


def test_version_loadavg_and_stat(world):
    config = world.kernel.config
    version = world.read(b"/proc/version")
    assert version.startswith(b"Linux version " + config.release + b" (")
    assert version.endswith(config.version + b"\n")
    load = world.text(b"/proc/loadavg").split()
    assert load[:3] == ["0.00", "0.00", "0.00"]
    running, total = (int(v) for v in load[3].split("/"))
    assert 1 <= running <= total == len(world.kernel.tasks)
    assert int(load[4]) == max(world.kernel.tasks)
    stat = world.text(b"/proc/stat").splitlines()
    assert stat[0].startswith("cpu  ") and len(stat[0].split()) == 11
    assert [line.split()[0] for line in stat[1:3]] == ["cpu0", "cpu1"]
    values = {line.split()[0]: line.split()[1:] for line in stat}
    assert int(values["btime"][0]) == world.kernel.boot_realtime_ns // 10**9
    assert int(values["procs_running"][0]) >= 1
    assert "processes" in values


def test_filesystems_names_the_mounted_types(world):
    lines = world.text(b"/proc/filesystems").splitlines()
    assert "nodev\tproc" in lines and "nodev\ttmpfs" in lines and "nodev\tdevtmpfs" in lines


def test_sys_files(world):
    config = world.kernel.config
    assert world.read(b"/proc/sys/kernel/hostname") == config.hostname + b"\n"
    assert world.read(b"/proc/sys/kernel/ostype") == b"Linux\n"
    assert world.read(b"/proc/sys/kernel/osrelease") == config.release + b"\n"
    assert world.read(b"/proc/sys/kernel/pid_max") == b"4194304\n"
    assert world.read(b"/proc/sys/kernel/cap_last_cap") == b"40\n"
    assert world.read(b"/proc/sys/vm/overcommit_memory") == b"0\n"
    assert world.read(b"/proc/sys/net/core/somaxconn") == b"4096\n"
    assert int(world.read(b"/proc/sys/fs/file-max")) > 0
    assert int(world.read(b"/proc/sys/kernel/ngroups_max")) == 65536
    uuid_form = rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n"
    first, second = world.read(b"/proc/sys/kernel/random/uuid"), world.read(b"/proc/sys/kernel/random/uuid")
    assert re.fullmatch(uuid_form, first) and re.fullmatch(uuid_form, second) and first != second
    boot_id = world.read(b"/proc/sys/kernel/random/boot_id")
    assert re.fullmatch(uuid_form, boot_id) and boot_id == world.read(b"/proc/sys/kernel/random/boot_id")
    assert world.box.listdir(b"/proc/sys") == [b"fs", b"kernel", b"net", b"vm"]
    config.hostname = b"renamed"  # what sethostname does
    assert world.read(b"/proc/sys/kernel/hostname") == b"renamed\n"


def test_cpus_allowed_mask_format():
    assert cpus_allowed_mask(1) == "1"
    assert cpus_allowed_mask(4) == "f"
    assert cpus_allowed_mask(12) == "fff"
    assert cpus_allowed_mask(32) == "ffffffff"
    assert cpus_allowed_mask(40) == "ff,ffffffff"
