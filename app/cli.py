"""`hearth` command line: index, search, ask, status, forget (+ models, watch when present).

Exit codes: 0 ok, 2 bad usage or missing path, 1 failure. Every command takes --json.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
from pathlib import Path

from app.progress import TerminalProgress
from rag.errors import HearthError
from rag.plain_reasons import with_detail

EXTRA_COMMANDS = ("app.cli_models", "app.cli_watch", "app.cli_serve")


def common_flags() -> argparse.ArgumentParser:
    """--data-dir/--json for every level. SUPPRESS: a subcommand must not reset a flag given
    before it (`hearth --json status`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help="library folder (default: $HEARTH_DATA_DIR or the user data dir)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="machine-readable output")
    from app.cli_team import add_server_flags

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

    from app.cli_ask import add_parser as add_ask

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
    from rag.paths import data_dir_path

    folder = data_dir_path(getattr(args, "data_dir", None))
    if folder.exists() and not folder.is_dir():
        return fail(args, f"the data folder {folder} is a file, not a folder (check --data-dir "
                          "or HEARTH_DATA_DIR)", 2)
    try:
        from app.cli_team import run_team, server_url
        if native_guard:  # the `hearth` process itself: no name lookup from native code either
            from rag.privacy import guard_native

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
        from rag.errors import plain_failure
        from rag.paths import data_dir_path

        return fail(args, plain_failure(exc, data_dir_path(getattr(args, "data_dir", None))), 1)


# -- helpers --------------------------------------------------------------------------------------
def emit(args, payload, text: str | None = None) -> None:
    if args.json:
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    elif text is not None:
        sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))


def fail(args, message: str, code: int) -> int:
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps({"error": message}) + "\n")
    print(f"hearth: {message}", file=sys.stderr)
    return code


def open_library(args, owner: str):
    from app.cli_team import open_team_library, server_url

    if server_url(args):
        return open_team_library(args)
    from rag import ocr
    from rag.library import Library

    lib = Library.open(args.data_dir, owner=f"`hearth {owner}` (command line)",
                       reads_only=owner in ("search", "ask", "serve"))  # readers: work on a full disk
    ocr.configure(lib.data_dir, getattr(args, "ocr", None))  # scanned pages: OCR'd or skipped
    return lib


def missing_paths(paths: list[str]) -> list[str]:
    return [p for p in paths if not os.path.exists(p)]


# -- commands -------------------------------------------------------------------------------------
def cmd_index(args) -> int:
    missing = missing_paths(args.paths)
    if missing:
        return fail(args, "no such file or folder: " + ", ".join(missing), 2)
    with open_library(args, "index") as lib:
        bar = TerminalProgress(enabled=not args.json and sys.stderr.isatty())
        resumed = lib.resume(progress=bar.update) if lib.unfinished() else None
        watched_folders(lib.data_dir, "include", args.paths)  # added again: watch them again
        report = lib.index(args.paths, progress=bar.update, force=args.force)
        bar.close()
        notice = lib.status()["embedder_notice"]  # a fallback to PyTorch, or mixed vectors
    payload = report.to_json()
    if notice:
        payload["embedder_notice"] = notice
    if resumed is not None:
        payload["resumed"] = resumed.count("indexed")
    lines = [f"Indexed {payload['indexed']}, unchanged {payload['unchanged']}, "
             f"skipped {payload['skipped']}, failed {payload['failed']}, "
             f"removed {payload['removed']} in {payload['seconds']:.1f} s."]
    lines += [f"  {f['status']}: {f['path']} — {with_detail(f['reason'])}"
              for f in payload["files"] if f["status"] in ("skipped", "failed", "removed")]
    lines += [f"Note: {notice}"] if notice else []
    emit(args, payload, "\n".join(lines))
    return 0


def bounded(kind: type, lo: float, hi: float, name: str):  # noqa: ANN201 - an argparse type
    """An argparse type for a number from lo to hi (NaN and infinity refused), with a plain
    message: `-k -3` or `--temperature nan` must not be taken silently."""
    what = "a whole number" if kind is int else "a number"

    def parse(text: str):  # noqa: ANN202
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value != value or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{name} must be {what} from {lo:g} to {hi:g}, "
                                             f"not {text!r}")
        return value

    return parse


def input_file_problem(path: str) -> str | None:
    """Why `path` can't be read as a list of questions or queries (plain words), or None."""
    if os.path.isdir(path):
        return f"{path} is a folder; give a text file with one question per line"
    if not os.path.exists(path):
        return f"no such file: {path}"
    if not os.path.isfile(path):
        return f"{path} is not a regular file (a pipe or a device); give a text file"
    return None


def read_queries(path: str) -> list[tuple[str, str]]:
    """(id, text) pairs from plain lines (id = line number) or BEIR-style JSONL."""
    try:
        return _read_queries(path)
    except UnicodeDecodeError as exc:
        raise HearthError(f"{path} is not UTF-8 text (an unreadable byte at position "
                          f"{exc.start}); save it as UTF-8") from exc


def _read_queries(path: str) -> list[tuple[str, str]]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            if line.startswith("{"):
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise HearthError(f"{path} line {n} is not valid JSON: {exc.msg}") from exc
                text = obj.get("text") or obj.get("query") or obj.get("question") or ""
                out.append((str(obj.get("_id", obj.get("id", n))), str(text)))
            else:
                out.append((str(n), line))
    return out


def cmd_search(args) -> int:
    scope = args.scope or None
    if scope and missing_paths(scope):
        return fail(args, "no such file or folder: " + ", ".join(missing_paths(scope)), 2)
    if (args.query is None) == (args.queries is None):
        return fail(args, "give one query, or --queries FILE", 2)
    if args.queries is not None:
        return search_many(args, scope)
    from rag.answer import question_problem

    if problem := question_problem(args.query, "search"):
        return fail(args, problem, 2)
    with open_library(args, "search") as lib:
        hits = lib.search(args.query, k=args.k, paths=scope, mode=args.mode)
    if not hits and not args.json:
        print("No matches. Is the library empty? Try `hearth status`.")
        return 0
    text = "\n".join(f"{i}. {Path(h.path).name}" + (f" p.{h.page}" if h.page else "")
                     + f"  ({h.score:.4f})\n   {h.text[:200].strip()}" for i, h in enumerate(hits, 1))
    emit(args, [h.to_json() for h in hits], text)
    return 0


def search_many(args, scope: list[str] | None) -> int:
    """One process, one model load, many queries: what an evaluation needs (JSON lines out)."""
    if problem := input_file_problem(args.queries):
        return fail(args, problem, 2)
    try:
        queries = read_queries(args.queries)
    except HearthError as exc:
        return fail(args, str(exc), 2)
    with open_library(args, "search") as lib:
        for qid, text in queries:
            hits = lib.search(text, k=args.k, paths=scope, mode=args.mode)
            if args.json:
                row = {"id": qid, "query": text, "hits": [h.to_json() for h in hits]}
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                names = ", ".join(Path(h.path).name for h in hits[:5]) or "no matches"
                sys.stdout.write(f"{qid}\t{text[:60]}\t{names}\n")
    return 0


def cmd_status(args) -> int:
    from rag.library import MANIFEST_NAME, finish_owed_forget, forget_owed
    from rag.lock import LOCK_NAME, holder_info
    from rag.manifest import Manifest
    from rag.paths import data_dir_path

    data_dir = data_dir_path(args.data_dir)  # a read: creates nothing, needs no write access
    if forget_owed(data_dir):  # a forget cut short: finish it now if no one else writes
        finish_owed_forget(data_dir, owner="`hearth status` (command line)")
    owed = forget_owed(data_dir)
    counts = {"documents": 0, "chunks": 0, "by_status": {}}
    model = None  # what this library's vectors were made with; None before the first index
    made_by = None  # which embedder (torch, onnx-fp32, onnx-int8); None before the first index
    if (data_dir / MANIFEST_NAME).exists():  # read-only use: no writer lock needed
        manifest = Manifest(data_dir / MANIFEST_NAME, read_only=True)
        try:
            counts = manifest.counts()
            model = manifest.get_meta("embedding_model")
            made_by = manifest.get_meta("embedder")
        finally:
            manifest.close()
    from rag.settings import Settings

    problems = Settings.load(data_dir).problems  # a hand-edited settings.json, named in plain words
    holder = holder_info(data_dir / LOCK_NAME)
    payload = {"documents": counts["documents"], "chunks": counts["chunks"],
               "by_status": counts["by_status"], "data_dir": str(data_dir),
               "embedding_model": model, "embedder": made_by, "in_use_by": holder.get("owner"),
               "forget_owed": owed, "settings_problems": problems}
    by = ", ".join(f"{k} {v}" for k, v in sorted(counts["by_status"].items())) or "empty"
    shown = ("none yet (nothing indexed)" if not counts["chunks"]
             else "not recorded yet (noted at the next search or index)")  # older libraries
    emit(args, payload, f"Library: {data_dir}\nDocuments: {counts['documents']} ({by})\n"
                        f"Chunks: {counts['chunks']}\n"
                        f"Embedding model: {model or shown}"
                        + (f" ({made_by})" if made_by else "")
                        + (f"\nA forget was cut short and is not finished yet: "
                           f"{holder.get('owner') or 'the next program that writes this library'}"
                           " will finish it." if owed else "")
                        + "".join(f"\nSettings: {p}" for p in problems))
    return 0


def cmd_forget(args) -> int:
    if not args.paths and not args.all:
        return fail(args, "name the files or folders to forget, or --all to wipe the library", 2)
    with open_library(args, "forget") as lib:
        if args.all:
            n = lib.status()["documents"]
            lib.wipe()
            emit(args, {"forgotten": n, "all": True}, f"Deleted all data in {lib.data_dir}.")
            return 0
        from rag.indexer import shown_path  # a name with undecodable bytes, printable

        unknown = [shown_path(p) for p in args.paths if not lib.doc_ids_for([p])]
        kept_out = watched_folders(lib.data_dir, "exclude", args.paths)
        forgotten = lib.forget_many(args.paths)  # one scrub for all of them
    emit(args, {"forgotten": forgotten, "not_in_library": unknown, "kept_out": kept_out},
         f"Forgot {forgotten} document(s)."
         + (f" Not in the library: {', '.join(unknown)}" if unknown else "")
         + (" Kept out of their watched folder until added again: " + ", ".join(kept_out)
            if kept_out else ""))
    return 0


def watched_folders(data_dir, action: str, paths: list[str]) -> list[str]:
    """Exclude paths from (or include them in) their watched folders, if any are watched.

    Why here too: a file forgotten from the CLI would otherwise come back the next time the
    watcher runs. Safe without the watcher: whoever writes the library holds its lock."""
    from rag.watch.folders import FILENAME, FolderStore

    if not (Path(data_dir) / FILENAME).exists():
        return []
    store = FolderStore(data_dir)
    return store.exclude(paths) if action == "exclude" else store.include(paths)
