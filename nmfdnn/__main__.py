"""``python -m nmfdnn`` runs the command line."""

import sys

from nmfdnn.cli import main

sys.exit(main())
