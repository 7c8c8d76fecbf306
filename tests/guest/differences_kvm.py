"""Guest tests known to differ on the kvm platform, with the reason (see conftest.py).

None at present: every every_platform guest test gives the native output under kvm.
"""

DIFFERENCES: dict[str, str] = {}
