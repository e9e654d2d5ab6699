"""House rules as tests: the core never imports Qt, importing it stays light, and the import
contracts (layers, no circles) hold."""

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
    code = ("import sys, app.cli, app.main, rag.library, rag.answering.answer, rag.ingest.indexer, rag.retrieve.retrieval, "
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


def _lint_copy(tmp_path: Path, edits: dict[str, str]) -> subprocess.CompletedProcess:
    """import-linter's contracts (pyproject.toml) run over a copy of the code with `edits`
    (a file -> a line appended to it)."""
    import shutil

    for pkg in ("app", "rag", "inference"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for rel, line in edits.items():
        with open(tmp_path / rel, "a", encoding="utf-8") as fh:
            fh.write(f"\n{line}\n")
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--no-cache"], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})


def test_the_layer_contracts_hold_and_catch_a_climb_and_a_circle(tmp_path):
    """The contracts pass on the code as it is, and each fails on the change it exists to stop:
    a model module reaching up into answering, the retrieval core reaching a model, and two
    modules importing each other."""
    assert _lint_copy(tmp_path / "as_is", {}).returncode == 0
    climb = _lint_copy(tmp_path / "climb", {"inference/base.py": "import rag.answering.verify  # noqa"})
    assert climb.returncode != 0 and "Layers: app, answering, models, common base BROKEN" in \
        climb.stdout
    reach = _lint_copy(tmp_path / "reach", {"rag/retrieve/retrieval.py": "import inference.models  # noqa"})
    assert reach.returncode != 0 and "Retrieval core imports neither answering nor models " \
        "BROKEN" in reach.stdout
    circle = _lint_copy(tmp_path / "circle", {"rag/retrieve/fusion.py": "import rag.store.keyword  # noqa",
                                              "rag/store/keyword.py": "import rag.retrieve.fusion  # noqa"})
    assert circle.returncode != 0 and "No import circles BROKEN" in circle.stdout
