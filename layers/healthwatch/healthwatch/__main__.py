"""`python -m healthwatch`: the same as the `healthwatch` command."""

import sys

from healthwatch.cli import main

sys.exit(main())
