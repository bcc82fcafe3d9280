"""`python -m generators.worker`: the worker without the arena package."""

import sys

from generators.worker.cli import main

sys.exit(main())
