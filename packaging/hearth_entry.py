"""Entry point of the frozen (PyInstaller) Hearth.

A frozen app has no Python interpreter to run `sys.executable -m module`, yet Hearth starts child
processes that way (the model probe `inference.probe`, the vector store rebuild
`rag.store.store_rebuild`) so a crash in native code can't take the window down. Here the frozen
executable answers that form itself: `Hearth -m inference.probe FILE` runs that module as
`__main__`, exactly as `python -m` would. Anything else is the ordinary `hearth` entry (no
arguments: the window; arguments: the CLI).
"""

from __future__ import annotations

import sys


def run_module_if_asked(argv: list[str]) -> bool:
    """Run `argv[2]` as a script when called as `EXE -m MODULE ARGS…`; True if it did."""
    if len(argv) < 3 or argv[1] != "-m":
        return False
    import runpy

    module = argv[2]
    sys.argv = [argv[0], *argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return True


def main() -> int:
    if run_module_if_asked(sys.argv):
        return 0
    from app.main import main as hearth_main

    return hearth_main()


if __name__ == "__main__":
    sys.exit(main())
