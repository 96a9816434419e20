"""`python -m addon …`: the same as the `chat2responses` command (see cli/)."""

import sys

from .cli import main

sys.exit(main())
