"""`hearth --server URL …`: index, search, ask, status and forget on a shared server library.

The flags come with every command (`add_server_flags`); app/cli.py hands a command over here
when `--server` is given (`run_team`), and its `open_library` opens the server library, so
`search` and `ask` run their usual code against it.
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


def run_team(args) -> int:
    from app.cli.output import fail

    if args.command not in TEAM_COMMANDS:
        return fail(args, f"--server works with {', '.join(TEAM_COMMANDS)}, "
                          f"not `{args.command}`", 2)
    if args.command == "index":
        return cmd_index(args)
    if args.command == "status":
        return cmd_status(args)
    if args.command == "forget":
        return cmd_forget(args)
    return int(args.func(args) or 0)  # search, ask: their own code, on the server library


def cmd_index(args) -> int:
    from app.cli.inputs import missing_paths
    from app.cli.output import emit, fail
    from app.progress import TerminalProgress

    missing = missing_paths(args.paths)
    if missing:
        return fail(args, "no such file or folder: " + ", ".join(missing), 2)
    with open_team_library(args) as lib:
        bar = TerminalProgress(enabled=not args.json and sys.stderr.isatty())
        report = lib.index(args.paths, progress=bar.update, force=getattr(args, "force", False))
        bar.close()
    payload = report.to_json()
    lines = [f"Indexed {payload['indexed']}, unchanged {payload['unchanged']}, "
             f"skipped {payload['skipped']}, failed {payload['failed']}, "
             f"removed {payload['removed']} in {payload['seconds']:.1f} s "
             f"(server library {lib.cfg.library!r} at {lib.cfg.url})."]
    lines += [f"  {f['status']}: {f['path']} — {f['reason']}" for f in payload["files"]
              if f["status"] in ("skipped", "failed", "removed")]
    emit(args, payload, "\n".join(lines))
    return 0


def cmd_status(args) -> int:
    from app.cli.output import emit

    with open_team_library(args) as lib:
        st = lib.status()
    by = ", ".join(f"{k} {v}" for k, v in sorted(st["by_status"].items())) or "empty"
    emit(args, st, f"Server library {st['library']!r} at {st['server']}\n"
                   f"Documents: {st['documents']} ({by})\nChunks: {st['chunks']}\n"
                   f"Paths relative to: {st['root']}\nEmbedding model: {st['embedding_model']}")
    return 0


def cmd_forget(args) -> int:
    from app.cli.output import emit, fail

    if not args.paths and not args.all:
        return fail(args, "name the files or folders to forget, or --all to wipe the library", 2)
    with open_team_library(args) as lib:
        if args.all:
            n = lib.status()["documents"]
            lib.wipe()
            emit(args, {"forgotten": n, "all": True},
                 f"Deleted all data in server library {lib.cfg.library!r} at {lib.cfg.url}.")
            return 0
        unknown = [p for p in args.paths if not lib.keys_for([p])]
        forgotten = lib.forget_many(args.paths)
    emit(args, {"forgotten": forgotten, "not_in_library": unknown, "kept_out": []},
         f"Forgot {forgotten} document(s) for everyone using this server library."
         + (f" Not in the library: {', '.join(unknown)}" if unknown else ""))
    return 0
