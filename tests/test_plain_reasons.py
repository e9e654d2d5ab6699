"""Plain words for every reason a file can fail: each loader/indexer reason has its own rule,
and real bad files made here get the sentence a new user can act on."""

from __future__ import annotations

import ast
import os
import zipfile
from pathlib import Path

import makedocs
import pytest

from rag.base.errors import LoadError, UnsupportedFormat
from rag.ingest.plain_reasons import FALLBACK, is_known, plain_reason, with_detail
from rag.loaders import load_document, precheck
from rag.loaders.base import _OS_REASONS

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [*sorted((ROOT / "rag" / "loaders").glob("*.py")),  # the OCR among them
           ROOT / "rag" / "ingest" / "indexer.py"]
REASON_CALLS = {"LoadError", "UnsupportedFormat", "FileOutcome", "_mark"}
STAND_IN = "PowerPoint file"  # for a name the AST can't resolve (a `kind` parameter)


def _constants(tree: ast.Module) -> dict[str, str]:
    out = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            out[node.targets[0].id] = node.value.value
    return out


def _render(node: ast.AST, consts: dict[str, str]) -> str | None:
    """A string node as a sample reason: f-string holes filled with the module's constants or
    a stand-in; None when the reason is not written here (a variable, str(exc)…)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in consts:
        return consts[node.id]
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value.value, ast.Name) and value.value.id in consts:
                parts.append(consts[value.value.id])
            else:
                hole = getattr(value.value, "id", "")
                parts.append(STAND_IN if hole.lower() == "kind" else "detail")
        return "".join(parts)
    return None


def written_reasons() -> list[tuple[str, str]]:
    """(file, reason) for every reason string the loaders and the indexer can record."""
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        consts = _constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name not in REASON_CALLS or not node.args:
                    continue
                arg = node.args[0] if name in ("LoadError", "UnsupportedFormat") else (
                    node.args[2] if len(node.args) >= 3 else None)
                text = _render(arg, consts) if arg is not None else None
                if text is not None:
                    found.append((path.name, text))
            elif isinstance(node, ast.FunctionDef) and node.name in ("precheck", "no_text_reason",
                                                                     "unavailable_reason"):
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and ret.value is not None:
                        text = _render(ret.value, consts)
                        if text:
                            found.append((path.name, text))
            elif isinstance(node, ast.Dict):
                for value in node.values:
                    text = _render(value, consts)
                    if text and path.name == "__init__.py" and "readable" in text:
                        found.append((path.name, text))  # _MAGIC's reasons
    return found


def test_every_written_reason_has_its_own_plain_sentence():
    reasons = written_reasons()
    assert len(reasons) > 40  # the scan really reads the loaders
    missing = [(f, r) for f, r in reasons if not is_known(r)
               and not r.startswith("OCR is not available")]  # part of another reason
    assert missing == []


def test_os_reasons_have_plain_sentences():
    for reason in _OS_REASONS.values():
        plain = plain_reason(reason)
        assert plain != FALLBACK and plain[0].isupper() and plain.endswith("."), reason


def test_issue_example_and_detail():
    reason = "not a readable PDF: Stream has ended unexpectedly"
    assert plain_reason(reason) == "This PDF is damaged or incomplete."
    assert with_detail(reason) == f"This PDF is damaged or incomplete. ({reason})"
    assert plain_reason("") == "" and plain_reason("something new") == FALLBACK


def _reason(path: Path) -> str:
    with pytest.raises((LoadError, UnsupportedFormat)) as info:
        load_document(path)
    return str(info.value)


def test_real_bad_files_get_plain_words(tmp_path):
    cases: dict[str, Path] = {}
    (tmp_path / "empty.txt").write_bytes(b"")
    cases["The file is empty."] = tmp_path / "empty.txt"
    (tmp_path / "fake.pdf").write_text("hello, not a pdf at all")
    cases["This file is named .pdf but is not a PDF."] = tmp_path / "fake.pdf"
    cases["This PDF is protected by a password."] = makedocs.make_encrypted_pdf(
        tmp_path / "secret.pdf", "hidden")
    good = makedocs.make_pdf(tmp_path / "good.pdf", ["Some text on the first page. " * 40])
    (tmp_path / "cut.pdf").write_bytes(good.read_bytes()[:400])
    cases["This PDF is damaged or incomplete."] = tmp_path / "cut.pdf"
    (tmp_path / "fake.docx").write_text("plain text with a docx name")
    cases["This file is named .docx but is not a Word document."] = tmp_path / "fake.docx"
    with zipfile.ZipFile(tmp_path / "hollow.docx", "w") as zf:
        zf.writestr("readme.txt", "no word parts in here")
    cases["This Word document is damaged or protected by a password."] = tmp_path / "hollow.docx"
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 64)
    cases["This is not a text file, although its name says so."] = tmp_path / "blob.txt"
    (tmp_path / "thing.xyz").write_text("x")
    cases["Hearth can't read this kind of file."] = tmp_path / "thing.xyz"
    cases["There is no text in this file to search."] = makedocs.make_docx(
        tmp_path / "blank.docx", [])
    got = {expected: plain_reason(_reason(path)) for expected, path in cases.items()}
    assert got == {expected: expected for expected in cases}


def test_precheck_reasons_on_real_things(tmp_path):
    folder = tmp_path / "folder.pdf"
    folder.mkdir()
    assert plain_reason(precheck(folder)) == "This is a folder, not a file."
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert plain_reason(precheck(fifo)).startswith("This is not an ordinary file")
    assert plain_reason(precheck(tmp_path / "gone.pdf")) == \
        "The file is no longer there (moved or deleted)."


@pytest.mark.slow
def test_cli_index_prints_the_same_plain_words(tmp_path):
    import subprocess
    import sys

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fake.pdf").write_text("hello, not a pdf at all")
    proc = subprocess.run([sys.executable, "-m", "app", "index", str(docs), "--data-dir",
                           str(tmp_path / "data")], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if "fake.pdf" in ln)
    assert "This file is named .pdf but is not a PDF. (not a readable PDF:" in line
