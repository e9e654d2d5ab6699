"""The library commands: index, search, status, forget (and opening the library they work on,
embedded or on a team server)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.cli.inputs import inputs_problem, missing_paths, read_queries
from app.cli.output import emit, fail
from app.cli.team import server_place
from app.progress import TerminalProgress
from rag.base.errors import HearthError
from rag.ingest.plain_reasons import with_detail


def open_library(args, owner: str):
    """The library a command works on: the team library on `--server`, else the embedded one."""
    from app.cli.team import open_team_library, server_url

    if server_url(args):
        return open_team_library(args)
    from rag.library import Library
    from rag.loaders import ocr

    lib = Library.open(args.data_dir, owner=f"`hearth {owner}` (command line)",
                       reads_only=owner in ("search", "ask", "serve"))  # readers: work on a full disk
    ocr.configure(lib.data_dir, getattr(args, "ocr", None))  # scanned pages: OCR'd or skipped
    return lib

# -- commands (one each for an embedded library and a team library on a server) ------------------
def cmd_index(args) -> int:
    missing = missing_paths(args.paths)
    if missing:
        return fail(args, "no such file or folder: " + ", ".join(missing), 2)
    with open_library(args, "index") as lib:
        bar = TerminalProgress(enabled=not args.json and sys.stderr.isatty())
        resumed = lib.resume(progress=bar.update) if lib.unfinished() else None
        if not lib.on_server:  # a server library has no watched folders
            watched_folders(lib.data_dir, "include", args.paths)  # added again: watch them again
        report = lib.index(args.paths, progress=bar.update, force=args.force)
        bar.close()
        # a fallback to PyTorch, or mixed vectors (an embedded library records which made them)
        status = {} if lib.on_server else lib.status()
        notice = status.get("embedder_notice", "")
        older = status.get("chunking_notice", "")  # made before headings: --force gives them
        older += " Run this again with --force." if older and not args.force else ""
        where = f" ({server_place(lib)})" if lib.on_server else ""
        detail = str if lib.on_server else with_detail  # a server's lines: the reason as recorded
    payload = report.to_json()
    if notice:
        payload["embedder_notice"] = notice
    if older:
        payload["chunking_notice"] = older
    if resumed is not None:
        payload["resumed"] = resumed.count("indexed")
    lines = [f"Indexed {payload['indexed']}, unchanged {payload['unchanged']}, "
             f"skipped {payload['skipped']}, failed {payload['failed']}, "
             f"removed {payload['removed']} in {payload['seconds']:.1f} s{where}."]
    lines += [f"  {f['status']}: {f['path']} — {detail(f['reason'])}"
              for f in payload["files"] if f["status"] in ("skipped", "failed", "removed")]
    lines += [f"Note: {n}" for n in (notice, older) if n]
    emit(args, payload, "\n".join(lines))
    return 0

def cmd_search(args) -> int:
    if problem := inputs_problem(args, "query", "queries"):
        return fail(args, problem, 2)
    scope = args.scope or None
    if args.queries is not None:
        return search_many(args, scope)
    from rag.answering.answer import question_problem

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
    from app.cli.team import server_status, server_url

    payload, where, details = server_status(args) if server_url(args) else local_status(args)
    by = ", ".join(f"{k} {v}" for k, v in sorted(payload["by_status"].items())) or "empty"
    emit(args, payload, f"{where}\nDocuments: {payload['documents']} ({by})\n"
                        f"Chunks: {payload['chunks']}\n{details}")
    return 0

def local_status(args) -> tuple[dict, str, str]:
    """The status of the embedded library, read from its manifest without opening the library
    (no writer lock, nothing created): it works while another process writes, on a full disk and
    on read-only media. Returns the payload, the heading and the lines after the counts."""
    from rag.base.paths import data_dir_path
    from rag.library import MANIFEST_NAME, finish_owed_forget, forget_owed
    from rag.store.lock import LOCK_NAME, holder_info
    from rag.store.manifest import Manifest

    data_dir = data_dir_path(args.data_dir)  # a read: creates nothing, needs no write access
    if forget_owed(data_dir):  # a forget cut short: finish it now if no one else writes
        finish_owed_forget(data_dir, owner="`hearth status` (command line)")
    owed = forget_owed(data_dir)
    counts = {"documents": 0, "chunks": 0, "by_status": {}}
    model = None  # what this library's vectors were made with; None before the first index
    made_by = None  # which embedder (torch, onnx-fp32, onnx-mixed, onnx-int8); None before the first index
    older = ""  # made before section headings were embedded: re-indexing gives them
    if (data_dir / MANIFEST_NAME).exists():  # read-only use: no writer lock needed
        from rag.ingest.chunking import ChunkingConfig, chunking_notice

        manifest = Manifest(data_dir / MANIFEST_NAME, read_only=True)
        try:
            counts = manifest.counts()
            model = manifest.get_meta("embedding_model")
            made_by = manifest.get_meta("embedder")
            older = chunking_notice(manifest, ChunkingConfig())
            older += " Run `hearth index --force FOLDER` for its folders." if older else ""
        finally:
            manifest.close()
    from rag.base.settings import Settings

    problems = Settings.load(data_dir).problems  # a hand-edited settings.json, named in plain words
    holder = holder_info(data_dir / LOCK_NAME)
    payload = {"documents": counts["documents"], "chunks": counts["chunks"],
               "by_status": counts["by_status"], "data_dir": str(data_dir),
               "embedding_model": model, "embedder": made_by, "in_use_by": holder.get("owner"),
               "forget_owed": owed, "settings_problems": problems, "chunking_notice": older}
    shown = ("none yet (nothing indexed)" if not counts["chunks"]
             else "not recorded yet (noted at the next search or index)")  # older libraries
    details = (f"Embedding model: {model or shown}" + (f" ({made_by})" if made_by else "")
               + (f"\nA forget was cut short and is not finished yet: "
                  f"{holder.get('owner') or 'the next program that writes this library'}"
                  " will finish it." if owed else "")
               + "".join(f"\nSettings: {p}" for p in problems)
               + (f"\nNote: {older}" if older else ""))
    return payload, f"Library: {data_dir}", details

def cmd_forget(args) -> int:
    if not args.paths and not args.all:
        return fail(args, "name the files or folders to forget, or --all to wipe the library", 2)
    with open_library(args, "forget") as lib:
        if args.all:
            n = lib.status()["documents"]
            lib.wipe()
            where = server_place(lib) if lib.on_server else lib.data_dir
            emit(args, {"forgotten": n, "all": True}, f"Deleted all data in {where}.")
            return 0
        from rag.ingest.indexer import shown_path  # a name with undecodable bytes, printable

        # a server library also counts documents that failed or were skipped (no chunks)
        held = lib.keys_for if lib.on_server else lib.doc_ids_for
        unknown = [shown_path(p) for p in args.paths if not held([p])]
        # a server library has no watched folders
        kept_out = [] if lib.on_server else watched_folders(lib.data_dir, "exclude", args.paths)
        forgotten = lib.forget_many(args.paths)  # one scrub for all of them
        everyone = " for everyone using this server library" if lib.on_server else ""
    emit(args, {"forgotten": forgotten, "not_in_library": unknown, "kept_out": kept_out},
         f"Forgot {forgotten} document(s){everyone}."
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
