"""Hand a file or folder to the desktop's default application, and hear when that fails.

Why: on Linux `QDesktopServices.openUrl` starts `xdg-open` and reports success as soon as it has
started; when `xdg-open` then finds no application for the file it says so only in its exit
status and on stderr, and the user sees nothing happen. Here `xdg-open` runs in its own session
(closing Hearth never closes what it opened) and a thread waits for its exit status, so the
viewer can say why nothing opened. Elsewhere (or with no `xdg-open`) Qt's own opener is used.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Callable

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

# xdg-open's exit statuses (xdg-utils' manual page), in plain words.
_REASONS = {
    1: "the desktop's opener did not understand the request",
    2: "the file or folder no longer exists",
    3: "this system has no application set up to open this kind of file",
    4: "the application that should open it failed to start",
}


def launcher() -> str | None:
    """The program that opens files with their default application here, if Hearth runs it."""
    return shutil.which("xdg-open") if sys.platform.startswith("linux") else None


def reason(code: int) -> str:
    return _REASONS.get(code, f"the desktop's opener stopped with error {code}")


def open_url(url: QUrl, failed: Callable[[str], None]) -> bool:
    """Open `url`; False when it could not even start. A later failure (a launcher that exits
    with an error) calls `failed(reason)` from a worker thread: connect it to a queued signal."""
    program = launcher()
    if program is None:
        return bool(QDesktopServices.openUrl(url))
    target = url.toLocalFile() if url.isLocalFile() else url.toString()
    try:
        proc = subprocess.Popen([program, target], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    except OSError:
        return False

    def wait() -> None:
        code = proc.wait()
        if code != 0:
            failed(reason(code))

    threading.Thread(target=wait, name="hearth-open", daemon=True).start()
    return True
