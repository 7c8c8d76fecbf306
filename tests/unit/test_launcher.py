"""_launcher.py: the command's launcher that `make venv` writes over pip's."""

import subprocess
import sys

from slimbox import _launcher


def test_the_launcher_starts_the_interpreter_without_site():
    text = _launcher.script("/env/bin/python", ["/env/site-packages", "/src"])
    assert text.startswith("#!/env/bin/python -S\n")
    assert "from slimbox.cli import main" in text
    compile(text, "slimbox", "exec")


def test_the_paths_are_site_packages_and_the_package_directory():
    paths = _launcher.module_paths()
    assert paths[-1] + "/slimbox" == _launcher.__file__.rsplit("/", 1)[0]
    assert all("site-packages" in path for path in paths[:-1])


def test_the_written_launcher_runs_the_command_as_python_m_slimbox_does(tmp_path):
    target = tmp_path / "slimbox"
    assert _launcher.main([str(target)]) == 0
    assert target.stat().st_mode & 0o777 == 0o755
    assert target.read_text() == _launcher.script(sys.executable, _launcher.module_paths())
    launched = subprocess.run([str(target), "host-syscalls"], capture_output=True, text=True, timeout=60)
    module = subprocess.run([sys.executable, "-m", "slimbox", "host-syscalls"], capture_output=True, text=True,
                            timeout=60)
    assert (launched.returncode, launched.stdout, launched.stderr) == (0, module.stdout, "")
    bad = subprocess.run([str(target), "run", "--pids", "0", "--", "x"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("slimbox: argument --pids")


def test_the_launched_interpreter_has_no_site_module(tmp_path):
    target = tmp_path / "probe"
    text = _launcher.script(sys.executable, _launcher.module_paths())
    target.write_text(text.replace("from slimbox.cli import main\nsys.exit(main())\n",
                                   "import slimbox.cli\nprint('site' in sys.modules, 're' in sys.modules)\n"))
    target.chmod(0o755)
    proc = subprocess.run([str(target)], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.split() == ["False", "False"]
