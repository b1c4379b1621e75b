import sys

from .cli import run

if __name__ == "__main__":      # not when a spawned worker process imports this module again (parallel decoding)
    sys.exit(run())  # (run: main, then the teardown out of Ctrl-C's reach)
