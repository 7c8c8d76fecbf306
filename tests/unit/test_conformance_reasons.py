"""tests/conformance/reasons.py: the known-difference lists of the conformance drivers."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conformance"))
from reasons import read_reasons, reason_for  # noqa: E402


def test_names_reasons_comments_and_wildcards(tmp_path):
    listing = tmp_path / "expected.txt"
    listing.write_text("# known differences\n\nsed/sed #1 # a name holding '#'\n"
                       "test.test_pty.* # no pseudo-terminals\nexact # why\n")
    reasons = read_reasons(listing)
    assert reasons == {"sed/sed #1": "a name holding '#'", "test.test_pty.*": "no pseudo-terminals",
                       "exact": "why"}
    assert reason_for("exact", reasons) == "why"
    assert reason_for("test.test_pty.PtyTest.test_fork", reasons) == "no pseudo-terminals"
    assert reason_for("test.test_os.test_fork", reasons) is None


def test_a_missing_list_names_nothing(tmp_path):
    assert read_reasons(tmp_path / "absent.txt") == {}
