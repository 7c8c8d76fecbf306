# slimbox: `make run` shows a program running in the sandbox; `make test` installs
# what the tests need (on Debian 12, as root) and runs them.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Servers the guest tests run natively and in the sandbox (tests/guest/test_nginx.py,
# test_redis.py) and their clients.
SERVER_PACKAGES := nginx-light redis-server redis-tools wrk curl
APT_PACKAGES := musl-tools busybox-static gcc libc6-dev python3 python3-venv coreutils strace libpython3.11-testsuite $(SERVER_PACKAGES)

.PHONY: run test deps venv docs check-docs clean busybox-testsuite bench bench-qiling bench-servers fuzz

run: deps venv
	@echo '$$ slimbox run -- /bin/busybox echo hello from the sandbox'
	@$(BIN)/slimbox run -- /bin/busybox echo hello from the sandbox
	@echo
	@echo '$$ slimbox run --strace -- /bin/busybox sh -c "echo a; exit 7"   (every syscall, answered by slimbox)'
	@$(BIN)/slimbox run --strace -- /bin/busybox sh -c 'echo a; exit 7'; echo "exit status: $$?"
	@echo
	@echo '$$ slimbox run -- /bin/busybox sh -c "echo written > /etc/slimbox-demo; cat /etc/slimbox-demo"'
	@$(BIN)/slimbox run -- /bin/busybox sh -c 'echo written > /etc/slimbox-demo; cat /etc/slimbox-demo'
	@echo '$$ ls /etc/slimbox-demo   (on the host: the write stayed in the sandbox)'
	@ls /etc/slimbox-demo 2>&1 || true

test: deps venv
	$(BIN)/python -m pytest -q tests

# System packages the tests use; installed only when missing (needs root then). Packages
# such as nginx-light and redis-server start a system service on installation; a
# policy-rc.d that refuses every start (exit 101, honoured by invoke-rc.d and
# deb-systemd-invoke) is in place during the installation unless the machine has one,
# so nothing is left listening on ports 80 or 6379. The tests start their own servers.
POLICY_RC := /usr/sbin/policy-rc.d

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		added=""; \
		if [ ! -e $(POLICY_RC) ]; then printf '#!/bin/sh\nexit 101\n' > $(POLICY_RC); chmod 755 $(POLICY_RC); added=1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		status=$$?; [ -z "$$added" ] || rm -f $(POLICY_RC); exit $$status; \
	fi

venv: $(VENV)/.installed

# The package's bytecode is compiled up front: where PYTHONDONTWRITEBYTECODE is set, every
# run would otherwise compile it from source (about three times the start-up time).
# The command's launcher is then replaced by slimbox's own (src/slimbox/_launcher.py), which
# starts the interpreter without the site module: 5-7 ms of every run.
$(VENV)/.installed: pyproject.toml src/slimbox/_launcher.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,emu]'
	$(BIN)/python -m compileall -q src
	$(BIN)/python -m slimbox._launcher $(BIN)/slimbox
	touch $@

# busybox's own testsuite (from Debian's source package) against /bin/busybox, natively
# and in the sandbox; compared, with allowed failures in tests/conformance/busybox/skiplist.txt.
BUSYBOX_TEST_PACKAGES := dpkg-dev

busybox-testsuite: deps venv
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(BUSYBOX_TEST_PACKAGES)"
	tests/conformance/busybox/fetch.sh
	$(BIN)/python tests/conformance/busybox/run.py

# A subset of CPython's regression tests (Debian's libpython3.11-testsuite under
# /usr/bin/python3.11, regrtest with worker processes) natively and in the sandbox,
# compared per module; known differences in tests/conformance/cpython/expected.txt
# (see docs/cpython-tests.md). CPYTHON_TEST_ARGS passes options, e.g. '-j 1 test_fcntl'.
CPYTHON_TEST_PACKAGES := python3.11 libpython3.11-testsuite
CPYTHON_TEST_ARGS ?=

.PHONY: cpython-tests
cpython-tests: deps venv
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(CPYTHON_TEST_PACKAGES)"
	$(BIN)/python tests/conformance/cpython/run.py $(CPYTHON_TEST_ARGS)

# The benchmark suite (bench/run.py): every workload natively, in slimbox and, when
# installed, under gVisor runsc (ptrace) and proot, pinned to one CPU; prints a table of
# medians and ratios (see docs/performance.md). BENCH_ARGS passes options, e.g.
# BENCH_ARGS='--only hello,getpid --cpu 1'.
BENCH_PACKAGES := hyperfine sqlite3 util-linux
BENCH_ARGS ?=

# Bytecode is compiled first: where PYTHONDONTWRITEBYTECODE is set, a module edited since
# `make venv` would be compiled from source on every timed run.
bench: deps venv
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(BENCH_PACKAGES)"
	$(BIN)/python -m compileall -q src
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Qiling, the emulator platform's peer in the benchmark, in an environment of its own
# (it pins its own unicorn); bench/run.py adds its column when this exists.
QILING_VENV := bench/.qiling-venv

bench-qiling: $(QILING_VENV)/.installed

$(QILING_VENV)/.installed:
	$(PYTHON) -m venv $(QILING_VENV)
	$(QILING_VENV)/bin/pip install -q 'qiling==1.4.6'
	touch $@

# Request rates of nginx (wrk) and redis (redis-benchmark), natively and in slimbox, in
# one run pinned to one CPU (bench/servers.py; docs/performance.md, Servers). Bounded:
# SERVERS_ARGS='--seconds 5 --requests 20000' sets the length of each measure.
SERVERS_ARGS ?=

bench-servers: deps venv
	$(BIN)/python bench/servers.py $(SERVERS_ARGS)

# Random syscalls, 1,000,000 in all: FUZZ_FAKE of them against the kernel on the fake
# platform, FUZZ_REAL from a C guest in sandboxes on the Linux platform (docs/fuzzing.md).
FUZZ_FAKE ?= 700000
FUZZ_REAL ?= 300000
FUZZ_SEED ?= 1

fuzz: deps venv
	$(BIN)/python -m tests.fuzz.run --fake $(FUZZ_FAKE) --real $(FUZZ_REAL) --seed $(FUZZ_SEED)

docs: venv
	$(BIN)/slimbox syscalls > docs/syscalls.md
	$(BIN)/slimbox host-syscalls --markdown > docs/host-syscalls.md
	$(BIN)/slimbox optee syscalls > docs/optee.md

clean:
	rm -rf $(VENV) build tests/guest/.build
