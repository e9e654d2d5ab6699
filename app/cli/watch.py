"""`hearth watch add|remove|list|run`: watched folders from the command line (headless use).

`run` watches in the foreground until Ctrl+C (or SIGTERM), printing sync progress; with
`--json` it prints one JSON object per status line (JSON Lines).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from rag.base.errors import HearthError


def register(subparsers, common: argparse.ArgumentParser | None = None) -> None:
    parents = [common] if common is not None else []
    p = subparsers.add_parser("watch", parents=parents,
                              help="keep folders in sync with the library")
    _json_flag(p, common)
    p.set_defaults(func=cmd_list)
    sub = p.add_subparsers(dest="watch_command", metavar="ACTION")

    a = sub.add_parser("add", parents=parents, help="watch a folder (indexes it now)")
    a.add_argument("paths", nargs="+", metavar="PATH")
    _json_flag(a, common)
    a.set_defaults(func=cmd_add)

    r = sub.add_parser("remove", parents=parents,
                       help="stop watching a folder and forget its documents")
    r.add_argument("paths", nargs="+", metavar="PATH")
    r.add_argument("--keep-documents", action="store_true",
                   help="stop watching but keep its documents in the library")
    _json_flag(r, common)
    r.set_defaults(func=cmd_remove)

    ls = sub.add_parser("list", parents=parents, help="watched folders and their state")
    _json_flag(ls, common)
    ls.set_defaults(func=cmd_list)

    run = sub.add_parser("run", parents=parents,
                         help="catch up, then watch in the foreground until Ctrl+C")
    run.add_argument("--once", action="store_true",
                     help="only catch up on changes (reconcile), then exit")
    _json_flag(run, common)
    run.set_defaults(func=cmd_run)


def _json_flag(parser: argparse.ArgumentParser, common) -> None:
    if common is None:  # standalone use: give every action its own --json
        parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                            help="machine-readable output")


def _data_dir(args):
    from rag.base.paths import resolve_data_dir

    return resolve_data_dir(getattr(args, "data_dir", None))


def _as_json(args) -> bool:
    return bool(getattr(args, "json", False))


def _out(args, payload, text: str) -> None:
    if _as_json(args):
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _open(args, action: str, **kw):
    from rag.library import Library
    from rag.watch import WatchService

    lib = Library.open(_data_dir(args), owner=f"`hearth watch {action}` (command line)")
    try:
        from rag.loaders import ocr

        ocr.configure(lib.data_dir)  # the OCR setting (Settings > Documents) applies here too
        return lib, WatchService(lib, **kw)
    except BaseException:
        lib.close()
        raise


def _progress_printer(args):
    """Status callback for `add`: one updating line on a terminal, nothing otherwise."""
    if _as_json(args) or not sys.stderr.isatty():
        return None

    def show(status) -> None:
        name = status.current.rsplit("/", 1)[-1][:40]
        sys.stderr.write(f"\r{status.message} {name:<40}")
        sys.stderr.flush()

    return show


def cmd_add(args) -> int:
    lib, svc = _open(args, "add", on_status=_progress_printer(args))
    added = []
    try:
        for path in args.paths:
            folder = svc.add_folder(path)
            added.append(folder.path)
        stats = dict(svc.writer.stats)
    finally:
        lib.close()
    if _progress_printer(args):
        sys.stderr.write("\n")
    _out(args, {"added": added, **stats},
         "\n".join(f"Watching {p}" for p in added)
         + f"\nIndexed {stats['indexed']}, unchanged {stats['unchanged']}, renamed "
           f"{stats['renamed']}, removed {stats['removed']}, failed {stats['failed']}.")
    return 0


def cmd_remove(args) -> int:
    forget = not args.keep_documents
    lib, svc = _open(args, "remove")
    removed, errors = [], []
    try:
        for path in args.paths:
            try:
                svc.remove_folder(path, forget=forget)
                removed.append(path)
            except HearthError as exc:
                errors.append(str(exc))
        forgotten = svc.writer.stats["removed"]
    finally:
        lib.close()
    text = "\n".join([f"Stopped watching {p}" for p in removed] + errors)
    if forget and removed:
        text += f"\nForgot {forgotten} document(s)."
    _out(args, {"removed": removed, "forgotten": forgotten, "errors": errors}, text)
    return 1 if errors else 0


def cmd_list(args) -> int:
    from rag.watch.folders import FolderStore
    from rag.watch.service import describe

    folders = describe(FolderStore(_data_dir(args)))  # no library lock: works while GUI runs
    if _as_json(args):
        _out(args, [f.to_json() for f in folders], "")
        return 0
    if not folders:
        _out(args, [], "No watched folders. Add one with `hearth watch add PATH`.")
        return 0
    lines = []
    for f in folders:
        lines.append(f"{f.state:<8} {f.path}")
        if f.notice:
            lines.append(f"         {f.notice}")
        lines += [f"         kept out (removed): {e}" for e in f.excluded]
    _out(args, None, "\n".join(lines))
    return 0


def cmd_run(args) -> int:
    stop = threading.Event()
    printer = _StatusPrinter(_as_json(args))
    lib, svc = _open(args, "run", on_status=printer)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if not svc.store.list():
            raise HearthError("No watched folders. Add one with `hearth watch add PATH`.")
        svc.start()
        if args.once:
            while not svc.wait_idle(0.5):
                pass
        else:
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass  # Ctrl+C is the normal way to stop
    finally:
        svc.stop()
        lib.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    printer.final(svc)
    return 0


class _StatusPrinter:
    """Prints a line whenever the sync message or folder states change."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.last = None
        self.lock = threading.Lock()

    def __call__(self, status) -> None:
        states = tuple((f.path, f.state, f.notice) for f in status.folders)
        key = (status.message, status.pending, states)
        with self.lock:
            if key == self.last:
                return
            notices = [] if self.last and self.last[2] == states else \
                [f"{f.state}: {f.path}" + (f" — {f.notice}" if f.notice else "")
                 for f in status.folders]
            self.last = key
            if self.as_json:
                line = json.dumps({"message": status.message, "pending": status.pending,
                                   "done": status.done, "current": status.current,
                                   "folders": [f.to_json() for f in status.folders]})
            else:
                pend = f" ({status.pending} pending)" if status.pending else ""
                line = "\n".join(notices + [f"{status.message}{pend}"])
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def final(self, svc) -> None:
        stats = svc.writer.stats
        if self.as_json:
            sys.stdout.write(json.dumps({"stopped": True, **stats}) + "\n")
        else:
            sys.stdout.write(f"Stopped. Indexed {stats['indexed']}, renamed {stats['renamed']}, "
                             f"removed {stats['removed']}, failed {stats['failed']}.\n")
        sys.stdout.flush()
