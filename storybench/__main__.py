"""``python -m storybench`` runs the command line."""

import sys

from storybench.cli import main

sys.exit(main())
