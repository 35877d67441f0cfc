"""``python -m specmarket``: the same command line as the ``specmarket`` script."""

from specmarket.cli import main

main()
