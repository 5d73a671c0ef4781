"""``python -m organizer ...`` runs the same command line as ``organizer ...``."""

import sys

from .cli import main

sys.exit(main())
