"""``python -m distro build [...]``: see distro/build.py."""

import sys

from distro.build import main

sys.exit(main())
