"""``python -m greenwire`` runs the command line."""

from greenwire.cli import main

main()
