"""``python -m remit`` runs the command-line interface."""

from remit.cli.main import main

main()
