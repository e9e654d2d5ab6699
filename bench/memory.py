"""Peak memory (RSS) while indexing and while answering with the bundled model.

Each task runs in its own child process (`python -m bench _memchild TASK`), so the peak belongs
to that task alone; the child samples RSS with psutil in a thread and also reports getrusage.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import PeakRSS


def child(task: str, scifact: str | None) -> dict:
    """Run inside the child: do `task` under the sampler, return the figures."""
    from bench.docset import make_docset
    from rag.library import Library

    work = Path(tempfile.mkdtemp(prefix="hearth-bench-mem-"))
    try:
        docs = work / "docs"
        make_docset(docs, pdfs=4, pages=4, texts=12, scifact=scifact)
        out: dict = {"task": task}
        with PeakRSS() as idx:
            lib = Library.open(work / "lib", owner="hearth bench")
            report = lib.index([docs])
        out["index"] = {"start_mib": idx.start_mib, "peak_mib": idx.peak_mib,
                        "chunks": lib.status()["chunks"], "indexed": report.count("indexed")}
        if task == "answer":
            from inference.models import load_model
            from rag.answering.answer import answer

            with PeakRSS() as ans:
                model = load_model(None)
                result = answer(lib, model, "What does the evidence say about the treatment?",
                                max_tokens=64)
                model.close()
            out["answer"] = {"start_mib": ans.start_mib, "peak_mib": ans.peak_mib,
                             "answer_chars": len(result.answer), "model": result.model}
        lib.close()
        out["ru_maxrss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_child(task: str, scifact: str | None) -> dict:
    cmd = [sys.executable, "-m", "bench", "_memchild", task]
    if scifact:
        cmd += ["--scifact", str(scifact)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                          cwd=Path(__file__).resolve().parent.parent)
    for line in proc.stdout.splitlines():
        if line.startswith("HEARTH-MEM "):
            return json.loads(line.split(" ", 1)[1])
    raise RuntimeError(f"memory child {task!r} failed: {proc.stderr[-800:]}")


def bench_memory(scifact: str | None = None) -> dict:
    """Indexing alone (process peak) and indexing then answering (peak during the answer)."""
    index_only = _run_child("index", scifact)
    with_answer = _run_child("answer", scifact)
    return {
        "index_peak_rss_mib": index_only["ru_maxrss_mib"],
        "index_sampled_peak_mib": index_only["index"]["peak_mib"],
        "index_chunks": index_only["index"]["chunks"],
        "answer_peak_rss_mib": with_answer["answer"]["peak_mib"],
        "answer_start_rss_mib": with_answer["answer"]["start_mib"],
        "answer_process_maxrss_mib": with_answer["ru_maxrss_mib"],
        "model": with_answer["answer"]["model"],
    }
