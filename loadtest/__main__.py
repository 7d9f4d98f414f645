"""``python -m loadtest``: see loadtest/cli.py."""

import sys

from loadtest.cli import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
