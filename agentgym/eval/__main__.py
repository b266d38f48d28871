"""``python -m agentgym.eval``: see ``agentgym.eval.cli``."""

import sys

from agentgym.eval.cli import main

sys.exit(main())
