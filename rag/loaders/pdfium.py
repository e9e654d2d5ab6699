"""One process-wide lock around every PDFium call.

Why: PDFium is not thread-safe, not even across different documents; two threads calling it at
once (the GUI's page viewer rendering while the indexer extracts or OCRs another PDF) can crash
the process. Every user of pypdfium2 in Hearth holds `PDFIUM_LOCK` while it touches a document,
page, text page or bitmap, and closes those objects explicitly inside the lock (a garbage
collector finaliser could otherwise run a PDFium call on any thread).
"""

from __future__ import annotations

import threading

PDFIUM_LOCK = threading.RLock()
