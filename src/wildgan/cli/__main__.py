"""`python -m wildgan.cli`, as `python -m wildgan`: cli was one module, cli.py, which ran main when run as a script."""

import sys

from . import run

if __name__ == "__main__":      # not when a spawned worker process imports this module again (parallel decoding)
    sys.exit(run())  # (run: main, then the teardown out of Ctrl-C's reach)
