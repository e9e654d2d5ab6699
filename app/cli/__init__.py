"""`hearth` command line: index, search, ask, status, forget, models, watch, serve.

Every command takes --json; `run_cli` runs one and returns its exit code."""

from app.cli.run import build_parser, run_cli

__all__ = ["build_parser", "run_cli"]
