"""``python -m zdtriage`` is ``zdtriage``."""

from .cli import main

main()
