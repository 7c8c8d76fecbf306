"""Guest tests known to differ on the emu platform, with the reason (see conftest.py).

None at present: every every_platform guest test gives the native output under emu.
Behaviour that differs but no guest test looks at is listed in
src/slimbox/platforms/emu/README.md ("Known differences from a Linux host").
"""

DIFFERENCES: dict[str, str] = {}
