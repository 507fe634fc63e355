"""``python -m jupyter_mldeploy`` runs the ``mldeploy`` command line."""

import sys

from .cli import main

sys.exit(main())
