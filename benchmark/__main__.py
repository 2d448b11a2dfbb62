"""``python -m benchmark``: the command-line entry point."""
import sys

from .cli import main

if __name__ == "__main__":  # not when worker processes re-import this module
    sys.exit(main())
