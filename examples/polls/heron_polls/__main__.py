"""``python -m heron_polls``: serve the polls app."""

import sys

from .main import main

sys.exit(main())
