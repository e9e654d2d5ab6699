"""Before the window starts on Linux/X11: are the system libraries Qt's xcb platform needs here?

Why: when one is missing Qt prints "xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb
platform plugin" even when that one is installed and the missing ones are others (libxcb-icccm4,
libxcb-keysyms1…), then aborts. This asks the dynamic linker (`ldd` on PySide6's xcb plugin)
which libraries it can't find and names the Debian/Ubuntu packages that provide them, in plain
words. Run by `make run` (`python -m app.qtlibs`) and by the window's start-up; imports no Qt.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

# soname -> Debian/Ubuntu package (the names Fedora/Arch use are in the README).
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}


def xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    for candidate in (root / "Qt" / "plugins" / "platforms" / "libqxcb.so",
                      root / "plugins" / "platforms" / "libqxcb.so"):
        if candidate.is_file():
            return candidate
    return None


def missing_libraries(plugin: Path | None = None) -> list[str]:
    """Shared libraries the xcb plugin (and the Qt libraries it loads) can't find."""
    plugin = plugin or xcb_plugin()
    ldd = shutil.which("ldd")
    if plugin is None or ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    missing = []
    for line in out.splitlines():
        name, _, where = line.strip().partition("=>")
        if "not found" in where and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def advice(missing: list[str]) -> str:
    """The plain message for missing libraries ('' when none)."""
    if not missing:
        return ""
    packages = sorted({DEBIAN_PACKAGES.get(lib, "") for lib in missing} - {""})
    unknown = [lib for lib in missing if lib not in DEBIAN_PACKAGES]
    lines = ["Hearth's window can't start: these system libraries are missing: "
             + ", ".join(missing) + "."]
    if packages:
        lines.append("On Debian or Ubuntu, install them with:\n    sudo apt-get install "
                     + " ".join(packages))
    if unknown:
        lines.append("Look up the package that provides " + ", ".join(unknown)
                     + " for your system (apt-file search NAME, dnf provides NAME).")
    lines.append("Other distributions: see 'System packages' in README.md. (Qt's own message "
                 "names only libxcb-cursor0, whichever library is really missing.)")
    return "\n".join(lines)


def wants_xcb(env: dict | None = None) -> bool:
    """Whether Qt will use the X11 (xcb) platform here."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return False
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0] == "xcb"
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def check() -> str:
    """'' when the window can start here, else the plain message."""
    return advice(missing_libraries()) if wants_xcb() else ""


def main() -> int:
    message = check()
    if message:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
