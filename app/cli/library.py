"""The library commands: index, search, status, forget (and opening the library they work on,
embedded or on a team server)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.cli.inputs import input_file_problem, missing_paths, read_queries
from app.cli.output import emit, fail
from app.progress import TerminalProgress
from rag.errors import HearthError
from rag.plain_reasons import with_detail


def open_library(args, owner: str):
    from app.cli.team import open_team_library, server_url

    if server_url(args):
        return open_team_library(args)
    from rag import ocr
    from rag.library import Library

    lib = Library.open(args.data_dir, owner=f"`hearth {owner}` (command line)",
                       reads_only=owner in ("search", "ask", "serve"))  # readers: work on a full disk
    ocr.configure(lib.data_dir, getattr(args, "ocr", None))  # scanned pages: OCR'd or skipped
    return lib

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
    made_by = None  # which embedder (torch, onnx-fp32, onnx-mixed, onnx-int8); None before the first index
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
