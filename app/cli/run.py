"""The `hearth` parser and the run of one command (exit codes: 0 ok, 2 bad usage or missing path,
1 failure)."""

from __future__ import annotations

import argparse
import importlib
import inspect
import os

from app.cli.inputs import bounded
from app.cli.library import cmd_forget, cmd_index, cmd_search, cmd_status
from app.cli.output import fail
from rag.base.errors import HearthError

EXTRA_COMMANDS = ("app.cli.models", "app.cli.watch", "app.cli.serve")


def common_flags() -> argparse.ArgumentParser:
    """--data-dir/--json for every level. SUPPRESS: a subcommand must not reset a flag given
    before it (`hearth --json status`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help="library folder (default: $HEARTH_DATA_DIR or the user data dir)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output")
    from app.cli.team import add_server_flags

    add_server_flags(common)  # --server URL …: a shared library on a Chroma server
    return common

def build_parser() -> argparse.ArgumentParser:
    common = common_flags()  # for subcommands
    parser = argparse.ArgumentParser(
        prog="hearth", description="Private answers from your own documents, offline.",
        parents=[common_flags()])  # its own copy: set_defaults below must not reach subcommands
    parser.set_defaults(data_dir=None, json=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", parents=[common], help="add files or folders to the library")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--ocr", action=argparse.BooleanOptionalAction, default=None,
                   help="read scanned pages and images by OCR, or skip them (--no-ocr); "
                        "default: the setting (on)")
    p.add_argument("--force", action="store_true",
                   help="read unchanged files again too (e.g. scans skipped while OCR was off)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", parents=[common], help="find passages (no model)")
    p.add_argument("query", nargs="?")
    p.add_argument("--queries", metavar="FILE",
                   help="many queries, one per line or BEIR JSONL ({\"_id\", \"text\"}); with "
                        "--json prints one {\"id\", \"query\", \"hits\"} object per line")
    p.add_argument("-k", type=bounded(int, 1, 1000, "-k"), default=5,
                   help="number of results (default 5)")
    p.add_argument("--in", dest="scope", action="append", metavar="PATH",
                   help="only search these files/folders (repeatable)")
    p.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default=None)
    p.set_defaults(func=cmd_search)

    from app.cli.ask import add_parser as add_ask

    add_ask(sub, common)

    p = sub.add_parser("status", parents=[common], help="what the library holds")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("forget", parents=[common],
                       help="remove documents (text and vectors) from the library")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--all", action="store_true", help="delete ALL data in this library")
    p.set_defaults(func=cmd_forget)

    for name in EXTRA_COMMANDS:
        try:
            register = importlib.import_module(name).register
            # register(subparsers[, common]): `common` carries --data-dir/--json for subcommands
            if len(inspect.signature(register).parameters) >= 2:
                register(sub, common)
            else:
                register(sub)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return parser

def run_cli(argv: list[str], native_guard: bool = False) -> int:
    """Run one command. `native_guard`: this process is `hearth` itself, so the kernel may refuse
    it datagram sockets for good (tests that call this in their own process leave it off)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from rag.base.paths import data_dir_path

    folder = data_dir_path(getattr(args, "data_dir", None))
    if folder.exists() and not folder.is_dir():
        return fail(args, f"the data folder {folder} is a file, not a folder (check --data-dir "
                          "or HEARTH_DATA_DIR)", 2)
    try:
        from app.cli.team import run_team, server_url
        if native_guard:  # the `hearth` process itself: no name lookup from native code either
            from rag.offline.privacy import guard_native

            guard_native(server_url(args))
        if server_url(args):
            return run_team(args)
        return int(args.func(args) or 0)
    except HearthError as exc:
        return fail(args, str(exc), 1)
    except KeyboardInterrupt:
        return fail(args, "Interrupted.", 130)
    except Exception as exc:  # full disk, read-only folder, ...: one plain line, no traceback
        if os.environ.get("HEARTH_DEBUG"):
            raise
        from rag.base.errors import plain_failure
        from rag.base.paths import data_dir_path

        return fail(args, plain_failure(exc, data_dir_path(getattr(args, "data_dir", None))), 1)
