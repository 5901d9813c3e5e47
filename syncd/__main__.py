"""``python -m syncd``: the same command line as the ``syncd`` console script."""

from syncd.cli import main

main()
