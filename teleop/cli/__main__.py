"""``python -m teleop.cli``: the same as the ``teleop`` command."""

import sys

from teleop.cli import main

sys.exit(main())
