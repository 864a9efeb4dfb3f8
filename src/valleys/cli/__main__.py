"""``python -m valleys.cli``: the ``valleys`` command line."""

import sys

from . import main

sys.exit(main())
