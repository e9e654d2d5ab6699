"""The bundled MiniLM on ONNX Runtime: PyTorch's vectors (fp32) or nearly (mixed, int8), faster.

Why: indexing is embedding-bound (issue 28). ONNX Runtime runs the exported graph without
PyTorch's per-op overhead, and the quantized graphs do the matrix products in 8-bit integers
("int8" all of them; "mixed", the default, all but the most sensitive: `rag.embed.onnx_build`).
Each text runs alone (no padding at all) on one of a few one-thread sessions, one per core,
all at once: on 2 cores that embeds 1.3-1.4x as many chunks a second as one two-thread session
on batches of 16 (smaller runs keep the attention scores in the cache; no thread waits for
another between operations), and a busy core slows only its own worker (docs/benchmarks.md,
issue 28). A lone search query runs on the caller's thread, on the first of these sessions
(a session may run on several threads at once): it never waits behind an indexing batch.

The graphs are built once into the models folder by `rag.embed.onnx_build` from the shipped weights.
If onnxruntime is missing or the build fails, the embedder says so in plain words and runs
PyTorch instead (`notice`, `variant == "torch"`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from rag.base.cores import physical_cores
from rag.embed.embeddings import SentenceTransformerEmbedder
from rag.embed.onnx_build import GRAPHS

log = logging.getLogger(__name__)

VARIANTS = ("onnx-mixed", "onnx-int8", "onnx-fp32", "torch")
# mixed, not int8: int8 scored SciFact test nDCG@10 0.7408 against PyTorch's 0.7464 (the issue
# allows 0.005); mixed keeps the score within it at nearly int8's speed (docs/benchmarks.md,
# issue 28). Choose another with HEARTH_EMBEDDER; a library made with one keeps using it.
DEFAULT_VARIANT = "onnx-mixed"
FOLDER_ENV = "HEARTH_EMBEDDER_DIR"  # where the built graphs live (tests share one build)
VARIANT_ENV = "HEARTH_EMBEDDER"  # choose a variant by hand (benchmarks, a user who must)
RUN_TEXTS = 1  # texts per run: 1, 2, 4, 8, 16 measured; fewer was faster (docs/benchmarks.md)
WORKERS_MAX = 8  # one-thread sessions at most, however many cores (each holds the graph)


def family(variant: str | None) -> str:
    """Vectors of one family are interchangeable: PyTorch and ONNX fp32 agree to cosine 0.999
    (both "fp32"); each quantized graph rounds differently and is a family of its own."""
    kind = (variant or "torch").removeprefix("onnx-")
    return "fp32" if kind in ("torch", "fp32") else kind


def models_folder(data_dir: str | os.PathLike | None = None) -> Path:
    """Where the ONNX builds live: <data dir>/models/minilm-onnx unless HEARTH_EMBEDDER_DIR."""
    from rag.base.paths import data_dir_path

    env = os.environ.get(FOLDER_ENV)
    return Path(env).expanduser() if env else data_dir_path(data_dir) / "models" / "minilm-onnx"


def ensure_built(folder: Path, model_dir: Path) -> dict:
    """The checked build in `folder`, building it first if it is missing or its source changed.
    A file lock keeps two processes from building at once (the second then finds it done)."""
    from rag.embed import onnx_build

    rec = onnx_build.current(folder, model_dir)
    if rec is not None:
        return rec
    from rag.base.paths import private_file

    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # not chmod: may be a shared dir
    with open(private_file(folder.parent / f".{folder.name}.lock"), "a+") as fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except ImportError:  # Windows: builds into a temp folder and swaps it in anyway
            pass
        rec = onnx_build.current(folder, model_dir)
        if rec is None:
            log.warning("Building the fast (ONNX) embedder from the bundled model; this happens "
                        "once and takes under a minute.")
            rec = _build_in_child(folder, model_dir)
    return rec


BUILD_TIMEOUT_S = 900


def _build_in_child(folder: Path, model_dir: Path) -> dict:
    """Build in a child process (`python -m rag.embed.embed_onnx`, also the frozen app's form).
    Why: the export needs PyTorch, about 600 MiB that Hearth would otherwise hold for as long
    as it runs (first index peak 920 MiB, later ones 320 MiB: docs/benchmarks.md)."""
    import subprocess

    from rag.embed import onnx_build

    root = str(Path(__file__).resolve().parents[2])  # the folder holding rag/
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])])}
    try:
        proc = subprocess.run([sys.executable, "-m", "rag.embed.embed_onnx", str(folder),
                               str(model_dir)], env=env, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise onnx_build.BuildFailed(f"the build process did not finish ({exc})") from exc
    rec = onnx_build.current(folder, model_dir)
    if rec is None:
        lines = proc.stderr.strip().splitlines()
        raise onnx_build.BuildFailed(lines[-1] if lines else f"exit status {proc.returncode}")
    return rec


class OnnxEmbedder(SentenceTransformerEmbedder):
    """The `Embedder` protocol on ONNX Runtime; tokenizer, dim and limits as the PyTorch one."""

    def __init__(self, model_dir: str | Path | None = None, *, variant: str = DEFAULT_VARIANT,
                 folder: Path | None = None, onnx_file: Path | None = None,
                 threads: int | None = None, batch_size: int = RUN_TEXTS) -> None:
        """`variant`: a graph of `rag.embed.onnx_build.GRAPHS` ("fp32", "int8", "mixed"; with or
        without "onnx-"); `onnx_file` runs that graph as it is (the build's own check);
        otherwise the build in `folder` (made on first load). `threads`: how many one-thread
        sessions embed a call's texts side by side (default: one per usable core)."""
        super().__init__(model_dir, batch_size=batch_size)
        kind = variant.removeprefix("onnx-")
        if kind not in GRAPHS:
            raise ValueError(f"unknown ONNX variant {variant!r}")
        self.kind = kind
        self.variant = f"onnx-{kind}"
        self.folder = folder or models_folder()
        self.onnx_file = Path(onnx_file) if onnx_file else None
        self.threads = threads or min(physical_cores(), WORKERS_MAX)
        self.notice = ""
        self.build: dict = {}
        self._fallback: SentenceTransformerEmbedder | None = None
        self._workers: list = []  # the sessions after the first (made on the first batch)
        self._pool: ThreadPoolExecutor | None = None
        self._batch_tok = None
        self._qlock = threading.Lock()

    # -- loading -------------------------------------------------------------------------------
    def _options(self):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1  # the cores are used by running sessions side by side
        # Every text has its own length, and a memory pattern would be kept per shape: without
        # them (measured on 16-text batches) 1,223 chunks peaked at 441 MiB, same speed. Each
        # worker has its own arena; indexing peaked at 270 MiB on 2 workers (docs/benchmarks.md).
        opts.enable_mem_pattern = False
        opts.log_severity_level = 3
        return opts

    def _session(self, path: Path):
        import onnxruntime as ort

        from rag.offline.privacy import onnxruntime_telemetry_off

        onnxruntime_telemetry_off()  # its own switch too, beside ORT_DISABLE_TELEMETRY (PRIVACY.md)
        return ort.InferenceSession(str(path), sess_options=self._options(),
                                    providers=["CPUExecutionProvider"])

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            try:
                if self.onnx_file is None:
                    import onnxruntime  # noqa: F401 - a missing runtime: fall back before building

                    self.build = ensure_built(self.folder, self.model_dir)
                    path = self.folder / self.build[self.kind]
                else:
                    path = self.onnx_file
                self._model = self._session(path)
            except ImportError as exc:
                self._fall_back(f"ONNX Runtime is not installed ({exc.name or exc})")
            except Exception as exc:  # noqa: BLE001 - any failure: PyTorch still answers
                self._fall_back(str(exc))

    def _fall_back(self, why: str) -> None:
        if self.onnx_file is not None:  # the build's own check: a failure must surface
            raise
        self.notice = (f"The fast embedder could not be used: {why}. Hearth embeds with PyTorch "
                       "instead: the same results, about 2-3 times slower.")
        log.warning(self.notice)
        self.variant = "torch"
        self._fallback = SentenceTransformerEmbedder(self.model_dir)
        self._fallback.load()
        self._model = self._fallback

    def close(self) -> None:
        """Drop the sessions (the build check runs each graph once, then lets it go); a batch
        in flight finishes first."""
        with self._lock, self._encode_lock, self._qlock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self._model, self._workers, self._pool = None, [], None

    @property
    def batch_tokenizer(self):
        """The counting tokenizer's twin that truncates at max_tokens, as sentence-transformers."""
        if self._batch_tok is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            tok.enable_truncation(max_length=self.max_tokens)
            tok.no_padding()
            self._batch_tok = tok
        return self._batch_tok

    def _sessions(self) -> tuple[list, ThreadPoolExecutor | None]:
        """The first session (the one `load` made, which also embeds lone queries), one more per
        further worker, made on the first batch (a library that only searches holds one), and
        the pool the further workers run on. A session that cannot be made (memory) leaves
        fewer workers, not a broken embedder."""
        with self._qlock:
            path = self.onnx_file or self.folder / self.build.get(self.kind, "")
            while len(self._workers) + 1 < self.threads:
                try:
                    self._workers.append(self._session(path))
                except Exception as exc:  # noqa: BLE001 - fewer workers still embed
                    log.warning("embedding on %d thread(s): %s", len(self._workers) + 1, exc)
                    self.threads = len(self._workers) + 1
            if self._workers and self._pool is None:
                self._pool = ThreadPoolExecutor(len(self._workers),
                                                thread_name_prefix="hearth-embed-worker")
            return [self._model, *self._workers], self._pool

    # -- embedding -----------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        if self._fallback is not None:
            return self._fallback.embed(texts)
        encs = self.batch_tokenizer.encode_batch([t.strip() for t in texts])
        if len(texts) == 1:  # a query: on its own thread, beside any batch in flight
            return self._run(self._model, encs)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # longest first, so the workers finish together (one text a run: no padding)
        order = sorted(range(len(encs)), key=lambda i: -len(encs[i].ids))
        runs = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        with self._encode_lock:
            self._spread(runs, encs, out)
        return out

    def _spread(self, runs: list[list[int]], encs, out: np.ndarray) -> None:  # noqa: ANN001
        """Each session takes the next run until none is left; this thread works too."""
        sessions, pool = self._sessions()
        sessions = sessions[:len(runs)]
        todo = iter(runs)
        take = threading.Lock()

        def work(session) -> None:  # noqa: ANN001
            while True:
                with take:
                    run = next(todo, None)
                if run is None:
                    return
                try:
                    out[run] = self._run(session, [encs[i] for i in run])
                except BaseException:
                    with take:  # the others stop after the run they hold
                        for _ in todo:
                            pass
                    raise

        helpers = [pool.submit(work, s) for s in sessions[1:]] if pool else []
        try:
            work(sessions[0])
        finally:
            errors = [f.exception() for f in helpers]  # waits for every worker
        for exc in errors:
            if exc is not None:
                raise exc

    @staticmethod
    def _run(session, encs) -> np.ndarray:
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encs):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return np.asarray(session.run(None, feed)[0], dtype=np.float32)


def make_embedder(variant: str | None = None, *, data_dir: str | os.PathLike | None = None
                  ) -> SentenceTransformerEmbedder:
    """The embedder for `variant` (default: HEARTH_EMBEDDER, else DEFAULT_VARIANT); nothing
    heavy is loaded until the first embed."""
    variant = variant or os.environ.get(VARIANT_ENV) or DEFAULT_VARIANT
    if variant == "torch":
        return SentenceTransformerEmbedder()
    return OnnxEmbedder(variant=variant, folder=models_folder(data_dir))


def _build_main(argv: list[str]) -> int:
    """The child of `_build_in_child`: build into FOLDER from MODEL_DIR; the reason on stderr."""
    from rag.embed import onnx_build
    from rag.offline.privacy import install_guard, set_offline_env

    set_offline_env()
    install_guard()
    folder, model_dir = Path(argv[0]), Path(argv[1])
    try:
        onnx_build.build(folder, model_dir, lambda file, variant: OnnxEmbedder(
            model_dir, variant=variant, onnx_file=file))
    except onnx_build.BuildFailed as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_build_main(sys.argv[1:]))
