"""``python -m crashkit.demo.kasten``: the same as the ``crashkit-kasten`` command."""

import sys

from .cli import main

sys.exit(main())
