"""The ``curriculens`` command line: one module per command, one error handler (``main``)."""

from curriculens.cli.main import main

__all__ = ["main"]
