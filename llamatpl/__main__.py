"""``python -m llamatpl``."""

from llamatpl.cli import main

main()
