"""`make package-check`: prove the frozen bundle works offline, and measure it.

Runs the *frozen* executable (not the venv) in a fresh data dir:
1. the model probe as a frozen app runs it (`Hearth -m inference.probe MODEL.gguf`);
2. a scripted first session under `strace -f`: the window offscreen, a folder of generated PDFs
   indexed, a question answered (`Hearth -m app.gui.selfcheck`), and every connect/sendto of
   every process checked: no IPv4/IPv6 destination at all is allowed;
3. a forget, whose scrub rebuilds the vector store in a frozen child (`-m rag.store.store_rebuild`);
4. the CLI (`Hearth status --json`) start time, and that the forgotten file is gone.
Prints the figures and writes them to build/package-check.json; exit 1 on any failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from netcheck import TRACED_SYSCALLS, name_lookups, parse_strace  # noqa: E402

QUESTION = "Who built the Zephyr lighthouse?"
PAGES = ["Coastal history of the northern shore. Harbour towns traded fish and salt.",
         "The Zephyr lighthouse was built in 1887 by engineer Marta Kowalski. Its lamp burned "
         "whale oil until 1921, when the lighthouse was electrified."]


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def make_docs(folder: Path) -> None:
    from fpdf import FPDF

    folder.mkdir(parents=True, exist_ok=True)
    for name, pages in (("zephyr-lighthouse.pdf", PAGES),
                        ("sourdough.pdf", ["Bake sourdough at 230 degrees Celsius for forty "
                                           "minutes."])):
        pdf = FPDF()
        for text in pages:
            pdf.add_page()
            pdf.set_font("Helvetica", size=12)
            pdf.multi_cell(0, 7, text)
        (folder / name).write_bytes(bytes(pdf.output()))


def main(argv: list[str]) -> int:
    bundle = Path(argv[0] if argv else ROOT / "build" / "dist" / "Hearth")
    exe = bundle / ("Hearth.exe" if os.name == "nt" else "Hearth")
    if not exe.is_file():
        print(f"No bundle at {bundle}: run `make package` first.", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="hearth-package-check-"))
    docs, data = work / "docs", work / "data"
    make_docs(docs)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HEARTH_DATA_DIR": str(data)}
    env.pop("HEARTH_DEFAULT_MODEL", None)  # the bundle's own default model answers
    figures: dict = {"bundle": str(bundle), "bundle_bytes": folder_size(bundle)}
    failures: list[str] = []

    # 1. The model probe, frozen.
    smol = next(bundle.rglob("SmolLM2-135M-Instruct*.gguf"), None)
    if smol is None:
        failures.append("the bundled SmolLM2 model is not in the bundle")
    else:
        t0 = time.monotonic()
        probe = subprocess.run([str(exe), "-m", "inference.probe", str(smol)], env=env,
                               capture_output=True, text=True, timeout=300)
        figures["probe_s"] = round(time.monotonic() - t0, 2)
        if probe.returncode != 0:
            failures.append(f"frozen model probe failed: {probe.stderr.strip()[-500:]}")

    # 2. The first session, traced.
    strace = shutil.which("strace")
    log = work / "strace.log"
    cmd = [str(exe), "-m", "app.gui.selfcheck", str(docs), QUESTION, "--data-dir", str(data)]
    if strace:
        cmd = [strace, "-f", "-qq", "-e", f"trace={TRACED_SYSCALLS}", "-o", str(log), *cmd]
    t0 = time.monotonic()
    session = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    figures["session_wall_s"] = round(time.monotonic() - t0, 2)
    try:
        figures["selfcheck"] = json.loads(session.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        figures["selfcheck"] = None
    if session.returncode != 0:
        failures.append(f"frozen session failed (exit {session.returncode}): "
                        f"{session.stderr.strip()[-1500:]}")
    if strace:
        text = log.read_text(errors="replace")
        connections = parse_strace(text)
        figures["network_connects"] = len(connections)
        figures["name_lookups"] = len(name_lookups(text))
        if connections:
            failures.append("network connects: " + "; ".join(c.line for c in connections[:5]))
        if name_lookups(text):
            failures.append("name lookups: " + "; ".join(name_lookups(text)[:5]))
    else:
        figures["network_connects"] = None
        print("note: strace is not installed; the zero-network check was skipped")

    # 3. Forget a document: the scrub rebuilds the vector store in a child process
    #    (`Hearth -m rag.store.store_rebuild`), the other thing a frozen app must start as a child.
    forget = subprocess.run([str(exe), "forget", str(docs / "sourdough.pdf"), "--json"], env=env,
                            capture_output=True, text=True, timeout=600)
    if forget.returncode != 0 or '"forgotten": 1' not in forget.stdout:
        failures.append(f"frozen `Hearth forget` failed: {(forget.stdout + forget.stderr)[-800:]}")

    # 4. Start-up without a window: the CLI.
    t0 = time.monotonic()
    status = subprocess.run([str(exe), "status", "--json"], env=env, capture_output=True,
                            text=True, timeout=300)
    figures["cli_status_s"] = round(time.monotonic() - t0, 2)
    if status.returncode != 0 or json.loads(status.stdout or "{}").get("documents") != 1:
        failures.append(f"frozen `Hearth status` failed or still counts the forgotten file: "
                        f"{(status.stdout + status.stderr).strip()[-500:]}")

    figures["failures"] = failures
    out = ROOT / "build" / "package-check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    sc = figures.get("selfcheck") or {}
    print(f"bundle {figures['bundle_bytes'] / 2**30:.2f} GiB · window shown "
          f"{sc.get('window_shown_s')} s after launch · session {sc.get('session_s')} s "
          f"(documents {sc.get('documents')}) · probe {figures.get('probe_s')} s · "
          f"CLI status {figures['cli_status_s']} s · network connects "
          f"{figures['network_connects']}")
    print(f"answer: {sc.get('answer', '')[:200]!r} sources: {sc.get('sources')}")
    for failure in failures:
        print("FAILED:", failure, file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
