"""House rules as tests: the core never imports Qt, and importing it stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "PyQt5", "PyQt6", "superqt", "qtpy")
HEAVY = ("torch", "sentence_transformers", "transformers", "chromadb", "llama_cpp")


def imported_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_packages_never_import_qt():
    offenders = [
        f"{p.relative_to(ROOT)} imports {sorted(imported_names(p) & set(QT))}"
        for pkg in ("rag", "inference") for p in (ROOT / pkg).rglob("*.py")
        if imported_names(p) & set(QT)
    ]
    assert offenders == []


def test_importing_the_core_and_cli_loads_no_heavy_module():
    code = ("import sys, app.cli, app.main, rag.library, rag.answer, rag.indexer, rag.retrieval, "
            "inference.models, inference.llama; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]"


def test_files_stay_readable_in_one_sitting():
    long = [f"{p.relative_to(ROOT)}: {n}" for pkg in ("app", "rag", "inference")
            for p in (ROOT / pkg).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450]
    assert long == []
