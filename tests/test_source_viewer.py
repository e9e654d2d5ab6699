"""The in-app source viewer and the opener contract behind citations and evidence quotes.

Real parts only: real PDFs made here, real pypdfium2 renders, a real Qt window offscreen. The
system opener is the one thing injected (a test must not launch a desktop application).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

from makedocs import make_pdf  # noqa: E402

from app.gui.sources_view import SourcesView, call_opener, takes_quote  # noqa: E402


def test_openers_old_and_new_forms_both_work(qapp, tmp_path):
    pdf = make_pdf(tmp_path / "a.pdf", ["first page", "second page"])
    two: list[tuple] = []
    three: list[tuple] = []
    assert not takes_quote(lambda p, pg: None) and takes_quote(lambda p, pg, q="": None)
    call_opener(lambda p, pg: two.append((p, pg)), "x", 1, "q")
    assert two == [("x", 1)]
    view = SourcesView(library_paths=lambda: {str(tmp_path)},
                       opener=lambda p, pg, q="": three.append((p, pg, q)))
    view.set_sources([{"n": 1, "path": str(pdf), "page": 2, "text": "second page", "score": 0.5}])
    assert view.open_number(1)
    assert three[-1] == (str(pdf.resolve()), 2, "second page")
    assert view.open_source(str(pdf), 1, "first")
    assert three[-1] == (str(pdf.resolve()), 1, "first")
    old = SourcesView(library_paths=lambda: {str(tmp_path)},
                      opener=lambda p, pg: two.append((p, pg)))
    assert old.open_source(str(pdf), 2, "ignored by a two-argument opener")
    assert two[-1] == (str(pdf.resolve()), 2)
    # Outside the library: refused, nothing opened.
    outside = make_pdf(Path(str(tmp_path) + "_other.pdf"), ["x"])
    assert view.open_source(str(outside), 1, "x") is False
    assert len(three) == 2
