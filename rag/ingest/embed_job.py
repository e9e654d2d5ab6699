"""One window of chunks embedded on its own thread while the indexer reads the next files.

Why (issue 28): reading a file (in the loader child), chunking it and embedding the previous
window used to take turns, so the embedder waited for every parse and the parser for every
batch. Now the indexer hands a window to an `EmbedJob` and goes on reading; the job embeds it
in batches of `batch` texts, checking cancel (and its own stop) between them, and writes
nothing: the indexer, the one writer, commits the window on its own thread once the job is
done. ONNX Runtime and PyTorch release the GIL while they compute, so the reading side runs.
"""

from __future__ import annotations

import threading

from rag.base.cancel import CancelToken


class EmbedJob:
    """Embeds `texts` (keyed by `keys`) into `vectors` in batches; `stopped` if cut short."""

    def __init__(self, embedder, keys: list[str], texts: list[str], vectors: dict,  # noqa: ANN001
                 batch: int, cancel: CancelToken | None = None) -> None:
        self.embedder = embedder
        self.keys, self.texts = keys, texts
        self.vectors = vectors  # key -> vector, filled batch by batch (read by the indexer)
        self.batch = batch
        self.cancel = cancel
        self.embedded = 0  # texts embedded so far
        self.stopped = False  # cancel or stop() came before every text was embedded
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="hearth-embed", daemon=True)

    def start(self) -> EmbedJob:
        self._thread.start()
        return self

    def _work(self) -> None:
        try:
            for i in range(0, len(self.keys), self.batch):
                if self._stop.is_set() or (self.cancel is not None and self.cancel.cancelled):
                    self.stopped = True
                    return
                part = self.keys[i:i + self.batch]
                got = self.embedder.embed(self.texts[i:i + self.batch])
                self.vectors.update(zip(part, got, strict=True))
                self.embedded += len(part)
        except BaseException as exc:  # noqa: BLE001 - handed to the indexer, which raises it
            self.error = exc

    def wait(self, timeout: float | None = None) -> bool:
        """True once the job has ended (done, stopped or failed)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Stop after the batch in flight and wait for it (the run ended early)."""
        self._stop.set()
        self._thread.join()
