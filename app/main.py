"""The `hearth` entry point: privacy guard first, then the CLI (with arguments) or the GUI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from rag.offline.privacy import install_guard

    install_guard()
    args = sys.argv[1:] if argv is None else argv
    if not args:
        from app.gui.launch import run_gui

        return run_gui()
    from app.cli import run_cli

    return run_cli(args, native_guard=True)


def gui_main() -> int:
    """`hearth-desktop` (the launcher's entry, a gui-script): always the window, no terminal."""
    from rag.offline.privacy import install_guard

    install_guard()
    from app.gui.launch import run_gui

    return run_gui()


if __name__ == "__main__":
    sys.exit(main())
