"""`python -m orchestrator.cli` is `devnet` (detached runs and tests start it so)."""

import sys

from orchestrator.cli.main import main

sys.exit(main())
