"""``python -m integration`` is ``zdtriage``."""

from .cli import main

main()
