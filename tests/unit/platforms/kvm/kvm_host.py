"""Whether this host can run the kvm platform (tests that need /dev/kvm skip otherwise)."""

import pytest

from slimbox.platforms.base import PlatformUnavailable


def kvm_platform(**options):
    from slimbox.platforms.kvm.platform import KvmPlatform

    try:
        return KvmPlatform(**options)
    except PlatformUnavailable as exc:
        pytest.skip(str(exc))
