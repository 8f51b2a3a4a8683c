"""Run the CLI: ``python -m apollo_fake``."""

from .cli import main

main()
