"""`hearth --server URL …`: index, search, ask, status and forget on a shared server library.

The flags come with every command (`add_server_flags`); app/cli/run.py hands a command over here
when `--server` is given (`run_team`), and `open_library` (app/cli/library.py) opens the server
library, so every command runs its usual code against it.
"""

from __future__ import annotations

import argparse
import os
import sys

TEAM_COMMANDS = ("index", "search", "ask", "status", "forget")


def add_server_flags(common: argparse.ArgumentParser) -> None:
    common.add_argument("--server", default=argparse.SUPPRESS, metavar="URL",
                        help="use the shared library on this Chroma server "
                             "(http://HOST:PORT or https://HOST; default $HEARTH_SERVER)")
    common.add_argument("--server-token-file", default=argparse.SUPPRESS, metavar="FILE",
                        help="send the token in FILE to the server (Authorization: Bearer)")
    common.add_argument("--server-library", default=argparse.SUPPRESS, metavar="NAME",
                        help="which library on the server (default: hearth)")
    common.add_argument("--server-root", default=argparse.SUPPRESS, metavar="DIR",
                        help="folder that documents' shared paths are relative to "
                             "(your mount point of the team's share; default: home folder)")


def server_url(args) -> str | None:
    return getattr(args, "server", None) or os.environ.get("HEARTH_SERVER") or None


def open_team_library(args):
    from rag.base.paths import data_dir_path
    from rag.server.server_store import insecure_warning
    from rag.server.team import open_team

    url = server_url(args)
    warning = insecure_warning(url)
    if warning and not args.json:
        print(f"hearth: warning: {warning}", file=sys.stderr)
    # the data dir (this client's mirror) is made only once the server answered
    return open_team(url, data_dir_path(args.data_dir),
                     library=getattr(args, "server_library", None),
                     token_file=getattr(args, "server_token_file", None),
                     root=getattr(args, "server_root", None))


def server_place(lib) -> str:
    """Where a team library's data is, as the command summaries name it."""
    return f"server library {lib.cfg.library!r} at {lib.cfg.url}"


def server_status(args) -> tuple[dict, str, str]:
    """The status of the server library (`hearth status` prints it like an embedded library's):
    the payload, the heading and the lines after the counts."""
    with open_team_library(args) as lib:
        st = lib.status()
    return (st, f"Server library {st['library']!r} at {st['server']}",
            f"Paths relative to: {st['root']}\nEmbedding model: {st['embedding_model']}")


def run_team(args) -> int:
    """Run a command on the server library: the commands that work there run their usual code
    (their `open_library` opens the server library); the others are refused."""
    from app.cli.output import fail

    if args.command not in TEAM_COMMANDS:
        return fail(args, f"--server works with {', '.join(TEAM_COMMANDS)}, "
                          f"not `{args.command}`", 2)
    return int(args.func(args) or 0)
