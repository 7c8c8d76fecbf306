"""The Linux platform's host round trips per fork+exec+wait, counted (deterministic):
the fork is one injected clone, and the exec's unmapping of the old image and mapping
of the new one (a static program: no interpreter) one batch of memory calls in one
ptrace stop. A change that makes exec inject its calls one stop at a time again (or
adds stops) fails here."""

from __future__ import annotations

import pytest

import slimbox
from slimbox import _platforms as registry

from .conftest import ENV, GUEST_DIR

pytestmark = pytest.mark.guest


def _counts(monkeypatch, probes, children: int) -> dict[str, int]:
    made = []
    make = registry.make_platform

    def keeping(name, host, **options):
        made.append(make(name, host, **options))
        return made[-1]

    monkeypatch.setattr(registry, "make_platform", keeping)
    result = slimbox.run([f"{GUEST_DIR}/spawn_loop", f"{GUEST_DIR}/hello", str(children)], env=ENV,
                         capture_output=True, mounts=(f"{probes}:{GUEST_DIR}:ro",), cwd="/tmp", timeout=60,
                         platform="linux")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello\n" * children + f"children exited 0: {children} of {children}\n".encode()
    (platform,) = made
    return platform.stats()


def test_a_fork_exec_wait_of_a_static_program_costs_two_injection_stops(monkeypatch, probes):
    one = _counts(monkeypatch, probes, 1)
    four = _counts(monkeypatch, probes, 4)
    per_child = {key: (four[key] - one[key]) / 3 for key in one}
    # clone; then two munmaps (the old image on either side of the stub's pages) and five
    # mmaps (four segments and the stack) in one batch
    assert per_child == {"injections": 8, "injection_stops": 2}
