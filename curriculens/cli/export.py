"""``curriculens export RUN``: the tidy table of a run as CSV or Parquet, with its metadata."""

from curriculens.cli.sweep import add_export_parser as add_parser

__all__ = ["add_parser"]
