"""`python -m chat2responses …`: the same as the `chat2responses` command (see cli/)."""

import sys

from chat2responses.cli import main

sys.exit(main())
