"""The command line, one module per group of verbs (``paramedic.cli.root`` wires them)."""

from paramedic.cli.app import app
from paramedic.cli.root import main

__all__ = ["app", "main"]
