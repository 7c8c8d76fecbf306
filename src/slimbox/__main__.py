"""`python -m slimbox` is the `slimbox` command."""

import sys

from slimbox.cli import main

sys.exit(main())
