"""A scripted first session in the real window: `python -m app.gui.selfcheck FOLDER QUESTION`.

Why: `make package-check` must prove the *frozen* bundle works as a user would use it: the
window comes up (offscreen), indexes a folder, answers a question from it. The frozen executable
runs this module with `Hearth -m app.gui.selfcheck …` (packaging/hearth_entry.py). Prints one
JSON object: seconds from process start to the window on screen, documents indexed, the answer,
its sources, and the total time; exit status 0 only if all of that happened.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def _process_age() -> float:
    """Seconds since this process started (includes the interpreter and bundle unpacking)."""
    try:
        import psutil

        return time.time() - psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - a missing psutil only loses this figure
        return float("nan")


def _wait(app, condition, timeout: float) -> bool:
    from PySide6.QtCore import QEventLoop

    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    return bool(condition())


def run(folder: str, question: str, data_dir: str, timeout: float = 900) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from rag.offline.privacy import install_guard

    install_guard()
    from app.gui.launch import application, create_window

    app = application()
    window = create_window(data_dir, opener=lambda *_a: None)
    window.show()
    _wait(app, window.isVisible, 30)
    out: dict = {"window_shown_s": round(_process_age(), 2)}
    started = time.monotonic()
    window.start()
    out["library_opened"] = _wait(app, lambda: window.backend._lib is not None, timeout)
    window.library.add_paths([folder])
    _wait(app, lambda: window.library.indexing, 30)
    _wait(app, lambda: not window.library.indexing and window.backend.documents, timeout)
    docs = window.backend.documents
    out["documents"] = {d.status: sum(1 for x in docs if x.status == d.status) for d in docs}
    window.chat.input.setPlainText(question)
    window.chat.send()
    _wait(app, lambda: window.chat.op is not None and window.chat.op.done, timeout)
    answer = window.chat.messages()[-1] if window.chat.messages() else None
    out["answer"] = answer.text() if answer is not None else ""
    out["sources"] = [Path(s["path"]).name for s in answer.sources.sources()] if answer else []
    out["model"] = window.model_label.text()
    out["session_s"] = round(time.monotonic() - started, 2)
    window.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app.gui.selfcheck")
    parser.add_argument("folder")
    parser.add_argument("question")
    parser.add_argument("--data-dir", default="")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="hearth-selfcheck-")
    result = run(args.folder, args.question, data_dir)
    print(json.dumps(result))
    ok = (result["library_opened"] and result["documents"].get("indexed", 0) > 0
          and result["answer"].strip() and result["sources"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
