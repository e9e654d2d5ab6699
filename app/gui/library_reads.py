"""The Library as the model lane (answers) and the Local API see it: reads, on the caller's thread.

Why a stand-in at all: the job holds the Library only while it is open (the backend may close it
at quit) and must stop when its operation is cancelled; reads never hop to the writer lane.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rag.base.cancel import CancelToken


class _LibraryReads:
    """The Library as seen by the model lane (answers) and the Local API: every call runs right
    here, on the calling thread: reads never wait for the writer. `manifest` is the Library's
    reading connection. The cancel token is checked before each call."""

    def __init__(self, get_lib: Callable[[], Any], cancel: CancelToken,
                 path: tuple[str, ...] = ()) -> None:
        self._get_lib, self._cancel, self._path = get_lib, cancel, path

    def __getattr__(self, name: str) -> _LibraryReads:
        if name.startswith("__"):
            raise AttributeError(name)
        return _LibraryReads(self._get_lib, self._cancel, self._path + (name,))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from rag.base.errors import Cancelled

        if self._cancel.cancelled:
            raise Cancelled("Stopped.")
        target = self._get_lib()
        for i, name in enumerate(self._path):
            if i == 0 and name == "manifest" and hasattr(target, "reads"):
                name = "reads"  # the Library's reading connection
            target = getattr(target, name)
        return target(*args, **kwargs)


def _LibraryOnWriter(_lane: Any, get_lib: Callable[[], Any], cancel: CancelToken  # noqa: N802
                     ) -> _LibraryReads:
    """Kept for callers written when reads hopped to the writer lane: they no longer do."""
    return _LibraryReads(get_lib, cancel)
