"""``python -m fa_lessons``: the same command as ``fa-lessons`` (see :mod:`fa_lessons.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
