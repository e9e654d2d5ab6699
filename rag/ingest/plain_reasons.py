"""Plain words for why a file could not be indexed; the technical reason stays as the detail.

The loaders record precise reasons ("not a readable PDF: Stream has ended unexpectedly") that
help whoever debugs, not whoever owns the file. Every front end shows `plain_reason(reason)`
first (a sentence a new user understands and can act on) and keeps the recorded reason as the
detail (the GUI's tooltip, the CLI's parenthesis). tests/test_plain_reasons.py checks that every
reason the loaders and the indexer can record has its own entry here.
"""

from __future__ import annotations

import re

# (pattern matched at the start of the reason, case-insensitive; plain sentence). First match
# wins, so the specific forms come before the general "not a readable …" ones.
_RULES: list[tuple[str, str]] = [
    # -- the file itself, before any reading
    (r"file not found|file no longer exists", "The file is no longer there (moved or deleted)."),
    (r"permission denied", "Hearth isn't allowed to read this file; check its permissions."),
    (r"is a folder, not a file", "This is a folder, not a file."),
    (r"file name too long", "The file name is too long for this system."),
    (r"too many symbolic links", "This is a link that points back to itself."),
    (r"input/output error", "The disk could not read this file (a failing disk or a "
                            "disconnected drive?)."),
    (r"file is busy", "Another program is using this file; try again later."),
    (r"device not available", "The drive holding this file is not available."),
    (r"not a regular file", "This is not an ordinary file (a pipe, device or socket), so "
                            "Hearth does not read it."),
    (r"the file name is not valid utf-8", "The file name has characters Hearth can't store; "
                                          "rename the file to index it."),
    (r"empty file", "The file is empty."),
    (r"(file )?too large|too large to", "This file is too large for Hearth to read."),
    (r"mostly empty space", "This file is mostly empty space, not a real document."),
    (r"unsupported file type", "Hearth can't read this kind of file."),
    (r"cancelled before this file was read", "Indexing was stopped before this file was read."),
    # -- PDF
    (r"password-protected pdf", "This PDF is protected by a password."),
    (r"encrypted pdf|not a readable pdf: broken encryption",
     "This PDF is encrypted in a way Hearth can't open."),
    (r"not a readable pdf: the file does not start like a pdf",
     "This file is named .pdf but is not a PDF."),
    (r"not a readable pdf: it has no pages", "This PDF has no pages."),
    (r"not a readable pdf: no page could be read",
     "This PDF is damaged: none of its pages could be read."),
    (r"not a readable pdf", "This PDF is damaged or incomplete."),
    (r"scanned pdf \(no text layer\): ocr is turned off",
     "This PDF is scanned pages without text, and text recognition (OCR) is turned off "
     "(Settings → Documents)."),
    (r"no text layer \(scanned pdf\?\)",
     "This PDF is scanned pages without text, and text recognition (OCR) is not available "
     "here."),
    (r"no text layer", "This PDF has no text: its pages look blank or are drawings only."),
    # -- Word, OpenDocument, PowerPoint, e-books (zip packages)
    (r"not a readable word document: the file is not a \.docx",
     "This file is named .docx but is not a Word document."),
    (r"not a readable word document \(corrupt or password",
     "This Word document is damaged or protected by a password."),
    (r"not a readable word document", "This Word document is damaged or incomplete."),
    (r"word document too large when unpacked|.* too large when unpacked",
     "This file unpacks to far more than its size (a zip bomb?), so Hearth refuses it."),
    (r"not a readable powerpoint file \(corrupt or password",
     "This presentation is damaged or protected by a password."),
    (r"not a readable powerpoint", "This presentation is damaged or incomplete."),
    (r"not a readable opendocument text file: it has no text body",
     "This OpenDocument file has no text (a spreadsheet or a drawing?)."),
    (r"not a readable opendocument", "This OpenDocument file is damaged or incomplete."),
    (r"drm-protected e-book", "This e-book is copy-protected (DRM), so Hearth can't read it."),
    (r"not a readable e-book", "This e-book is damaged or incomplete."),
    # -- web pages, text, images
    (r"not a readable html", "This web page file is damaged."),
    (r"looks like a binary file", "This is not a text file, although its name says so."),
    (r"not valid utf-\d+ text|not valid .* text",
     "This text file uses an encoding Hearth can't read."),
    (r"an image: its text can only be read by ocr, and ocr is turned off",
     "This is an image, and text recognition (OCR) is turned off (Settings → Documents)."),
    (r"an image: its text could only be read by ocr",
     "This is an image, and text recognition (OCR) is not available here."),
    (r"no text found in this image", "No text could be read in this image."),
    (r"not a readable image", "This image is damaged or in a format Hearth can't read."),
    (r"not a readable ", "This file is damaged or incomplete."),
    # -- nothing to index
    (r"no text (found )?(in|on|to index)", "There is no text in this file to search."),
    # -- limits of the reading child process and unexpected errors
    (r".*took too long|.*timed out", "Reading this file took too long, so Hearth stopped."),
    (r".*(ran out of|out of|used too much) memory",
     "Reading this file needed too much memory, so Hearth stopped."),
    (r"could not (read|index) this file|could not read",
     "Hearth could not read this file (an unexpected problem; the details may help a "
     "developer)."),
]
_COMPILED = [(re.compile(p, re.IGNORECASE), text) for p, text in _RULES]
FALLBACK = "Hearth could not read this file."


def plain_reason(reason: str | None) -> str:
    """The plain sentence for a recorded reason ('' for none; FALLBACK when nothing matches)."""
    reason = (reason or "").strip()
    if not reason:
        return ""
    for pattern, text in _COMPILED:
        if pattern.match(reason):
            return text
    return FALLBACK


def is_known(reason: str) -> bool:
    """Whether a rule covers `reason` (the tests keep every loader reason covered)."""
    return any(pattern.match(reason.strip()) for pattern, _ in _COMPILED)


def with_detail(reason: str | None) -> str:
    """'Plain sentence (technical reason)' for one-line outputs such as the CLI."""
    if not reason or not is_known(reason):  # e.g. "removed" notes: already plain, keep as is
        return reason or ""
    return f"{plain_reason(reason)} ({reason})"
