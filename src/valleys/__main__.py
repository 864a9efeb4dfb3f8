"""``python -m valleys``: the ``valleys`` command line."""

import sys

from .cli import main

sys.exit(main())
