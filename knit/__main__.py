"""``python -m knit`` is the ``knit`` command."""
import sys

from .cli import main

sys.exit(main())
