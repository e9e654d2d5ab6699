"""Loaders on real generated files: every format, true page numbers, every bad-input reason."""

from __future__ import annotations

import codecs
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

# Runs without an installed package or conftest: make the repo root and tests/ importable.
for _p in (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1]):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import makedocs  # noqa: E402

import rag.loaders as loaders  # noqa: E402
from rag.base.errors import LoadError, UnsupportedFormat  # noqa: E402
from rag.base.types import LoadedDocument, Page  # noqa: E402
from rag.loaders import base, is_supported, load_document, register, supported_suffixes  # noqa: E402
from rag.loaders.base import clean_text  # noqa: E402


def reason(path: Path) -> str:
    with pytest.raises(LoadError) as info:
        load_document(path)
    return str(info.value)


# --- registry ------------------------------------------------------------------------------


def test_supported_suffixes_cover_the_formats():
    suffixes = supported_suffixes()
    assert isinstance(suffixes, frozenset)
    for s in (".pdf", ".txt", ".md", ".markdown", ".html", ".htm", ".docx", ".epub", ".odt",
              ".pptx", ".png", ".jpg", ".tiff"):
        assert s in suffixes
    assert is_supported("/x/Report.PDF") and is_supported("notes.md")
    assert not is_supported("clip.mp3") and not is_supported("Makefile")


def test_unsupported_suffix(tmp_path):
    f = tmp_path / "data.xyz"
    f.write_text("hello")
    with pytest.raises(UnsupportedFormat, match=r"unsupported file type \.xyz"):
        load_document(f)
    assert issubclass(UnsupportedFormat, LoadError)


def test_register_adds_a_format(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "_LOADERS", dict(base._LOADERS))

    @register("XYZ", ".abc")
    def load_upper(path: Path) -> LoadedDocument:
        return LoadedDocument(path="", title="", pages=[Page(None, path.read_text().upper())])

    assert {".xyz", ".abc"} <= supported_suffixes() and is_supported("a.XYZ")
    f = tmp_path / "shout.xyz"
    f.write_text("quiet words")
    doc = load_document(f)
    assert doc.pages == [Page(None, "QUIET WORDS")]
    assert doc.path == str(f.resolve()) and doc.title == "shout"  # filled in by load_document


def test_crashing_loader_becomes_load_error(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "_LOADERS", dict(base._LOADERS))

    @register(".boom")
    def explode(path: Path) -> LoadedDocument:
        raise RuntimeError("kaput")

    f = tmp_path / "x.boom"
    f.write_text("x")
    assert "kaput" in reason(f)


# --- file-system problems ------------------------------------------------------------------


def test_missing_file(tmp_path):
    assert reason(tmp_path / "gone.pdf") == "file not found"


def test_folder_with_supported_suffix(tmp_path):
    d = tmp_path / "notes.txt"
    d.mkdir()
    assert reason(d) == "is a folder, not a file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_file(tmp_path):
    f = tmp_path / "secret.txt"
    f.write_text("private")
    f.chmod(0)
    try:
        assert reason(f) == "permission denied"
    finally:
        f.chmod(0o600)


@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)
def test_unreadable_file_as_unprivileged_user(tmp_path):
    """Root reads everything, so check the chmod 000 case from a 'nobody' subprocess."""
    tmp_path.chmod(0o755)
    f = tmp_path / "secret.txt"
    f.write_text("private")
    f.chmod(0)
    repo = Path(__file__).resolve().parents[1]
    code = (
        f"import sys; sys.path.insert(0, {str(repo)!r})\n"
        "from rag.base.errors import LoadError\nfrom rag.loaders import load_document\n"
        f"try:\n    load_document({str(f)!r})\nexcept LoadError as e:\n    print(e)\n"
    )
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c"]
    run = subprocess.run([*cmd, code], capture_output=True, text=True, timeout=60)
    # The loader wraps its own OS errors, so a raw one means 'nobody' can't reach the checkout.
    if run.returncode != 0 and ("PermissionError" in run.stderr or "ModuleNotFound" in run.stderr):
        pytest.skip(f"'nobody' cannot run this checkout: {run.stderr.strip()[-200:]}")
    assert run.stdout.strip() == "permission denied", run.stderr


def test_os_reason_words():
    import errno

    assert base.os_reason(PermissionError(errno.EACCES, "Permission denied")) == "permission denied"
    assert base.os_reason(FileNotFoundError(errno.ENOENT, "No such file")) == "file not found"
    assert base.os_reason(OSError(errno.ENOSPC, "No space left on device")) == (
        "no space left on device"
    )


@pytest.mark.parametrize("name", ["empty.pdf", "empty.txt", "empty.docx", "empty.html"])
def test_empty_file(tmp_path, name):
    f = tmp_path / name
    f.write_bytes(b"")
    assert reason(f) == "empty file"


def test_huge_files_refused(tmp_path, monkeypatch):
    pdf = makedocs.make_pdf(tmp_path / "big.pdf", ["some text"])
    txt = tmp_path / "big.txt"
    txt.write_text("word " * 1000)
    monkeypatch.setattr(loaders, "MAX_FILE_BYTES", pdf.stat().st_size - 1)
    assert reason(pdf).startswith("file too large (")
    monkeypatch.setattr(loaders, "MAX_FILE_BYTES", 10**9)
    monkeypatch.setattr(loaders, "MAX_TEXT_BYTES", 4000)
    assert "limit is 3.9 KiB" in reason(txt)
    assert load_document(pdf).pages[0].text == "some text"  # PDFs use the larger limit


# --- PDF -----------------------------------------------------------------------------------


def test_pdf_three_pages_true_numbers_and_title(tmp_path):
    f = makedocs.make_pdf(
        tmp_path / "guide.pdf",
        ["Alpha page about boilers.", "Beta page about radiators.", "Gamma page about pipes."],
        title="Heating Guide",
    )
    doc = load_document(f)
    assert doc.title == "Heating Guide"
    assert doc.path == str(f.resolve())
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert "radiators" in doc.pages[1].text and "pipes" in doc.pages[2].text


def test_pdf_blank_page_left_out_numbering_kept(tmp_path):
    f = makedocs.make_pdf(tmp_path / "gaps.pdf", ["first", "", "", "fourth"])
    doc = load_document(f)
    assert [(p.number, p.text) for p in doc.pages] == [(1, "first"), (4, "fourth")]
    assert doc.title == "gaps"  # no /Title metadata -> file stem


def test_pdf_hyphenation_and_whitespace(tmp_path):
    text = "An exam-\nple of    spaced   words.\n\nSecond para-\ngraph by Jean-\nPaul."
    doc = load_document(makedocs.make_pdf(tmp_path / "h.pdf", [text]))
    page = doc.pages[0].text
    assert "example of spaced words." in page
    assert "paragraph" in page and "Jean-Paul" in page
    assert "  " not in page


def test_clean_text_rules():
    assert clean_text("exam-\nple") == "example"
    assert clean_text("Jean-\nPaul") == "Jean-Paul"
    assert clean_text("COVID-\n19") == "COVID-\n19"
    assert clean_text("a  \t b\u00a0c") == "a b c"
    assert clean_text("one\n\n\n\n  two\nthree  ") == "one\n\ntwo\nthree"
    assert clean_text("co\u00ad\noperate") == "cooperate"


def test_pdf_owner_password_only_loads(tmp_path):
    f = makedocs.make_owner_only_pdf(tmp_path / "locked.pdf", "Readable despite encryption")
    doc = load_document(f)
    assert doc.pages == [Page(1, "Readable despite encryption")]


def test_pdf_user_password_refused(tmp_path):
    f = makedocs.make_encrypted_pdf(tmp_path / "secret.pdf", "hidden text")
    assert reason(f) == "password-protected PDF; Hearth can't open it"


def test_pdf_scanned_refused(tmp_path):
    f = makedocs.make_scanned_pdf(tmp_path / "scan.pdf")
    assert reason(f).startswith("no text layer")  # a drawing, no image: nothing for OCR either


def test_pdf_corrupt_refused(tmp_path):
    assert reason(makedocs.make_corrupt_pdf(tmp_path / "bad.pdf")).startswith(
        "not a readable PDF: "
    )


def test_text_renamed_to_pdf_refused(tmp_path):
    f = tmp_path / "fake.pdf"
    f.write_text("just some words, no PDF at all\n")
    assert reason(f).startswith("not a readable PDF: ")


def test_truncated_pdf_says_why(tmp_path):
    good = makedocs.make_pdf(tmp_path / "whole.pdf", ["one", "two"])
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert reason(cut).startswith("not a readable PDF")


def test_pdf_bad_page_skipped_rest_kept(tmp_path):
    f = makedocs.make_pdf_with_bad_page(tmp_path / "b.pdf", ["one", "two", "three"], bad_page=2)
    doc = load_document(f)
    assert [(p.number, p.text) for p in doc.pages] == [(1, "one"), (3, "three")]


def test_pdf_every_page_bad(tmp_path):
    f = makedocs.make_pdf_with_bad_page(tmp_path / "b.pdf", ["only"], bad_page=1)
    assert reason(f).startswith("not a readable PDF: no page could be read")


def test_pdf_loading_is_quiet(tmp_path, capsys, caplog):
    f = makedocs.make_pdf_with_bad_page(tmp_path / "noisy.pdf", ["a", "b"], bad_page=1)
    load_document(f)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


def test_pypdf_speed_50_pages(tmp_path):
    pages = [f"Page {i} " + "lorem ipsum dolor sit amet " * 60 for i in range(1, 51)]
    f = makedocs.make_pdf(tmp_path / "fifty.pdf", pages)
    start = time.perf_counter()
    doc = load_document(f)
    seconds = time.perf_counter() - start
    assert [p.number for p in doc.pages] == list(range(1, 51))
    assert doc.pages[49].text.startswith("Page 50 lorem ipsum")
    rate = 50 / seconds
    print(f"\npypdf: 50 pages in {seconds:.2f} s = {rate:.0f} pages/s")
    assert rate > 5  # far below the real rate; catches only pathological slowdowns


# --- text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding, prefix",
    [("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
     ("utf-16-be", codecs.BOM_UTF16_BE), ("cp1252", b"")],
)
def test_text_encodings(tmp_path, encoding, prefix):
    text = "Café “quotes” – naïve résumé\r\nsecond line"
    f = tmp_path / "notes.txt"
    f.write_bytes(prefix + text.encode(encoding))
    doc = load_document(f)
    assert doc.title == "notes"
    assert doc.pages == [Page(None, "Café “quotes” – naïve résumé\nsecond line")]


def test_latin1_fallback(tmp_path):
    f = tmp_path / "old.log"
    f.write_bytes("Grüße aus Köln\n".encode("latin-1") + b"\x81 end")  # 0x81: not cp1252
    assert load_document(f).pages[0].text.startswith("Grüße aus Köln")


def test_binary_renamed_txt(tmp_path):
    f = tmp_path / "photo.txt"
    f.write_bytes(bytes(range(256)) * 40)
    assert reason(f) == "looks like a binary file, not text"
    g = tmp_path / "controls.txt"  # no NUL bytes, but full of control characters
    g.write_bytes(b"ab\x01\x02\x03\x04\x05\x06cd\x07\x08" * 200)
    assert reason(g) == "looks like a binary file, not text"


def test_whitespace_only_text(tmp_path):
    f = tmp_path / "blank.md"
    f.write_text("  \n\n\t \r\n")
    assert reason(f) == "empty file"


def test_markdown_title_and_text(tmp_path):
    f = tmp_path / "recipe.md"
    f.write_text("```\n# not a title\n```\n\n# Grandma's Bread ##\n\nMix **flour**.\n")
    doc = load_document(f)
    assert doc.title == "Grandma's Bread"
    assert "Mix **flour**." in doc.pages[0].text and "# not a title" in doc.pages[0].text


def test_markdown_title_fallbacks(tmp_path):
    plain = tmp_path / "plain.markdown"
    plain.write_text("## Only a subheading\n\ntext")
    assert load_document(plain).title == "plain"
    front = tmp_path / "front.md"
    front.write_text("---\ntitle: From Front Matter\n---\n# Heading\n")
    assert load_document(front).title == "From Front Matter"
    setext = tmp_path / "setext.md"
    setext.write_text("Big Title\n=========\n\nbody")
    assert load_document(setext).title == "Big Title"


def test_rst_title(tmp_path):
    f = tmp_path / "doc.rst"
    f.write_text("=====\nUsage\n=====\n\nRun it.\n")
    assert load_document(f).title == "Usage"


# --- HTML ----------------------------------------------------------------------------------


def test_html_text_without_noise(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the HTML loader tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    f = makedocs.make_html(
        tmp_path / "page.html", "Boiler Manual", ["Bleed the radiators yearly.", "Check <valves>."]
    )
    doc = load_document(f)
    assert doc.title == "Boiler Manual"
    assert doc.pages == [Page(None, "Bleed the radiators yearly.\n\nCheck <valves>.")]


def test_html_structure(tmp_path):
    f = tmp_path / "t.htm"
    f.write_text(
        "<html><body><h1>Head</h1><p>one <b>bold</b>\n   word</p><!-- hidden -->"
        "<ul><li>a</li><li>b</li></ul><p>line<br>break</p>"
        "<table><tr><th>k</th><th>v</th></tr><tr><td>x</td><td>1</td></tr></table>"
        "</body></html>",
        encoding="utf-8",
    )
    doc = load_document(f)
    assert doc.title == "Head"  # no <title>: first <h1>
    text = doc.pages[0].text
    assert text.startswith("Head\n\none bold word\n\na\n\nb\n\nline\nbreak")
    assert "k | v\n\nx | 1" in text and "hidden" not in text


def test_html_charset_from_meta(tmp_path):
    f = tmp_path / "old.html"
    f.write_bytes(
        b'<html><head><meta charset="windows-1252"><title>Caf\xe9</title></head>'
        b"<body><p>na\xefve</p></body></html>"
    )
    doc = load_document(f)
    assert doc.title == "Café" and doc.pages[0].text == "naïve"


def test_html_without_text(tmp_path):
    f = tmp_path / "empty.html"
    f.write_text("<html><head><title>T</title><script>x()</script></head><body></body></html>")
    assert reason(f) == "no text in this HTML page"


# --- DOCX ----------------------------------------------------------------------------------


def test_docx_paragraphs_table_and_title(tmp_path):
    f = makedocs.make_docx(
        tmp_path / "lease.docx",
        ["The tenant pays rent monthly.", "Pets are allowed."],
        title="Flat Lease",
        table=[["Item", "Cost"], ["Rent", "900"]],
    )
    doc = load_document(f)
    assert doc.title == "Flat Lease"
    assert doc.pages == [
        Page(None, "The tenant pays rent monthly.\n\nPets are allowed.\n\nItem | Cost\nRent | 900")
    ]


def test_docx_title_falls_back_to_stem(tmp_path):
    doc = load_document(makedocs.make_docx(tmp_path / "memo.docx", ["hi"]))
    assert doc.title == "memo"


def test_docx_corrupt(tmp_path):
    fake = tmp_path / "fake.docx"
    fake.write_text("not a zip file at all")
    assert reason(fake).startswith("not a readable Word document")
    wrong_zip = tmp_path / "wrong.docx"
    with zipfile.ZipFile(wrong_zip, "w") as zf:
        zf.writestr("hello.txt", "a zip, but not a Word document")
    assert reason(wrong_zip).startswith("not a readable Word document")


def test_docx_without_text(tmp_path):
    f = makedocs.make_docx(tmp_path / "blank.docx", ["", "   "])
    assert reason(f) == "no text in this Word document"
