"""``python -m chaos.lab ...``: the same as ``quantix lab ...``."""

import sys

from chaos.lab.cli import main

sys.exit(main(sys.argv[1:]))
