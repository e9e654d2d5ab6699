"""Safe rendering: an answer quoting a hostile document fetches nothing and opens nothing by itself.

Documents the user did not write can carry tracking pixels, remote stylesheets and links. The
rendered answer must make no connection attempt (checked by the audit guard and by strace in a
subprocess), the view must refuse every non-inline resource, and links open only on a click and
only when they resolve to a file inside the library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import netcheck
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HOSTILE = """Here is what the report says [1].

![x](http://example.invalid/t.png)

<img src=https://tracker.example.invalid/pixel.gif>

<img src="//cdn.example.invalid/a.png" onerror="fetch('https://evil.invalid')">

<link rel="stylesheet" href="https://fonts.example.invalid/css">

<style>@import url(https://example.invalid/x.css); body { background: url(http://e.invalid/b) }</style>

<iframe src="https://example.invalid/frame"></iframe>

<script src="https://example.invalid/s.js"></script>

![local](file:///etc/passwd) and ![proto-relative](//example.invalid/p.png)

[a link](https://example.invalid/phish) and <https://example.invalid/auto>
"""

_LOADING_ATTRS = {"src", "srcset", "background", "poster", "data", "style"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_rendered_html_loads_nothing():
    from app.gui.markdown_view import render_markdown

    html = render_markdown(HOSTILE)
    parser = _Elements()
    parser.feed(html)
    tags = {t for t, _ in parser.tags}
    assert not tags & {"img", "link", "style", "iframe", "script", "object", "embed", "video",
                       "audio", "source", "base", "meta"}, html
    for tag, attrs in parser.tags:
        assert not _LOADING_ATTRS & set(attrs), (tag, attrs)
    # Links survive only as anchors (inert until clicked); the image shows as its alt text.
    assert any(t == "a" and a.get("href") == "https://example.invalid/phish" for t, a in parser.tags)
    assert "[x]" in html


def test_inline_data_image_still_renders():
    from app.gui.markdown_view import render_markdown

    pixel = "data:image/png;base64,iVBORw0KGgo="
    assert f'src="{pixel}"' in render_markdown(f"![dot]({pixel})")


@pytest.mark.slow
def test_answer_view_makes_no_connection_attempt(tmp_path):
    """Guarded, strace'd process shows the hostile answer (and raw HTML) in a real AnswerView."""
    script = tmp_path / "render.py"
    script.write_text(textwrap.dedent(f"""
    import json, sys
    from rag.offline.privacy import install_guard, blocked_attempts
    install_guard()
    from PySide6.QtCore import QUrl
    from PySide6.QtWidgets import QApplication
    from app.gui.markdown_view import AnswerView
    app = QApplication(sys.argv)
    requested = []
    class Spy(AnswerView):
        def loadResource(self, type_, url):
            result = super().loadResource(type_, url)
            requested.append([url.toString(), result is not None])
            return result
    view = Spy()
    view.resize(600, 800)
    view.show()
    view.set_markdown({HOSTILE!r})
    for _ in range(20):
        app.processEvents()
    view.grab()  # force layout and painting of everything
    # Second layer: even raw HTML with remote resources must not be fetched by the view.
    view.setHtml('<img src="http://example.invalid/raw.png">'
                 '<img src="file:///etc/hostname">'
                 '<link rel="stylesheet" href="https://example.invalid/s.css">'
                 '<p style="background-image: url(http://example.invalid/bg.png)">x</p>')
    for _ in range(20):
        app.processEvents()
    view.grab()
    print(json.dumps({{"requested": requested, "blocked": blocked_attempts()}}))
    """), encoding="utf-8")
    env = netcheck.clean_env(tmp_path / "data", QT_QPA_PLATFORM="offscreen")
    args = [sys.executable, str(script)]
    reason = netcheck.strace_available()
    if reason is None:
        run = netcheck.run_traced(args, env, tmp_path / "trace.txt", timeout=120)
    else:
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120,
                              cwd=str(netcheck.REPO))
        run = netcheck.TracedRun(proc.returncode, proc.stdout, proc.stderr, "")
    assert run.returncode == 0, run.explain()
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["blocked"] == []  # nothing even tried a socket
    remote_asked = [u for u, _ in out["requested"] if not u.startswith("data:")]
    assert any("raw.png" in u for u in remote_asked), out  # the view was asked, and ...
    assert all(not loaded for _, loaded in out["requested"]), out  # ... refused every one
    if reason is None:
        assert run.remote == [], run.explain()


# -- links: open only on click, only inside the library ------------------------------------

@pytest.fixture
def library(tmp_path):
    lib = tmp_path / "library"
    (lib / "sub").mkdir(parents=True)
    doc = lib / "sub" / "report.pdf"
    doc.write_bytes(b"%PDF-1.4 fake")
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the library")
    os.symlink(secret, lib / "escape.txt")
    return lib, doc, secret


def test_links_open_only_when_clicked_and_inside_library(qtbot, library):
    from PySide6.QtCore import QUrl

    from app.gui.linkcheck import file_url
    from app.gui.markdown_view import AnswerView

    lib, doc, secret = library
    opened: list[tuple[str, int | None]] = []
    view = AnswerView(library_paths=lambda: {str(lib)}, opener=lambda p, pg: opened.append((p, pg)))
    qtbot.addWidget(view)
    refused: list[str] = []
    view.link_refused.connect(refused.append)
    inside = file_url(doc, page=2)
    view.set_markdown(f"See [the report]({inside}) and [phish](https://example.invalid/x).")
    qtbot.wait(50)
    assert opened == []  # rendering never opens anything

    attempts = [
        "https://example.invalid/x",
        "javascript:alert(1)",
        f"file://{lib}/../secret.txt",
        f"file://{lib}/sub/../../secret.txt",
        f"{lib}/%2e%2e/secret.txt",
        f"file://{lib}/escape.txt",  # symlink pointing outside
        "file://evil.invalid/etc/passwd",
        "sub/report.pdf",
        f"file://{lib}/sub/report.pdf#page=../../x",
    ]
    for url in attempts:
        view.anchorClicked.emit(QUrl(url))
    assert opened == [] and len(refused) == len(attempts), (opened, refused)

    view.anchorClicked.emit(QUrl(inside))
    assert opened == [(str(doc.resolve()), 2)]


def test_resolve_library_link_rejects_traversal(library):
    from app.gui.linkcheck import resolve_library_link

    lib, doc, secret = library
    allowed = {str(lib)}
    assert resolve_library_link(doc.as_uri(), allowed) == (doc.resolve(), None)
    assert resolve_library_link(str(Path(lib, "..", "secret.txt")), allowed) is None
    assert resolve_library_link(Path(lib, "escape.txt").as_uri(), allowed) is None
    assert resolve_library_link(secret.as_uri(), allowed) is None
    assert resolve_library_link(doc.as_uri(), {str(doc)}) == (doc.resolve(), None)
    assert resolve_library_link(doc.as_uri(), set()) is None
