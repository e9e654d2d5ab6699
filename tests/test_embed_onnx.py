"""The ONNX embedder (issue 28): a real export of the shipped MiniLM weights into a temp folder,
its vectors against PyTorch's, a library made with one variant reopened with the other, and the
fallback to PyTorch (with a plain notice) when the runtime is missing or the build cannot be made.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys

import numpy as np
import pytest

from rag.embed.embed_onnx import OnnxEmbedder
from rag.embed.embeddings import bundled_model_dir

TEXTS = [
    "How do I feed a sourdough starter?",
    "x",
    "Install a package from a local tarball with R CMD INSTALL pkg_1.0.tar.gz.",
    "Les colonnes de basalte se forment quand la lave refroidit lentement.",
    "The committee met on Tuesday and agreed the budget. " * 40,  # past 256 word-pieces
    "ünïcödé — “quotes”, emoji 🙂 and numbers 3.14159",
]


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A real export, quantization and parity check from the bundled weights (no network)."""
    from rag.embed import onnx_build
    from rag.embed.embed_onnx import OnnxEmbedder

    folder = tmp_path_factory.mktemp("models") / "minilm-onnx"
    model_dir = bundled_model_dir()
    rec = onnx_build.build(folder, model_dir, lambda file, variant: OnnxEmbedder(
        model_dir, variant=variant, onnx_file=file))
    return folder, rec


def test_export_makes_checked_fp32_mixed_and_int8_builds(built):
    from rag.embed import onnx_build

    folder, rec = built
    assert rec["checked"] and rec["parity"]["fp32"]["min_cosine"] >= 0.999
    for kind in ("int8", "mixed"):
        assert rec["parity"][kind]["same_top_passage"] and rec["parity"][kind]["ok"]
    for name in (rec["fp32"], rec["int8"], rec["mixed"], onnx_build.BUILD_FILE):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600
    # int8 weights are about a quarter of fp32's; mixed keeps three of 36 matrices in fp32
    fp32_size = (folder / rec["fp32"]).stat().st_size
    assert (folder / rec["int8"]).stat().st_size < 0.5 * fp32_size
    assert (folder / rec["mixed"]).stat().st_size < 0.5 * fp32_size
    # the matrices mixed keeps in fp32 are those named, and only those
    import onnx

    mixed = onnx.load(str(folder / rec["mixed"])).graph.node
    plain = {n.name for n in mixed if n.op_type == "MatMul" and "/output/dense/" in n.name}
    assert plain == {onnx_build.FFN_OUT.format(i) for i in onnx_build.MIXED_FP32_LAYERS}
    assert onnx_build.current(folder, bundled_model_dir()) == rec  # found again, not rebuilt
    assert not list(folder.parent.glob(".building-*"))  # the temp folder is gone


def test_onnx_vectors_match_pytorch(built, embedder):
    folder, _ = built
    ref = embedder.embed(TEXTS)
    fp32 = OnnxEmbedder(variant="fp32", folder=folder)
    int8 = OnnxEmbedder(variant="onnx-int8", folder=folder)
    mixed = OnnxEmbedder(folder=folder)  # the default
    got32, got8, gotm = fp32.embed(TEXTS), int8.embed(TEXTS), mixed.embed(TEXTS)
    assert got32.shape == ref.shape == (len(TEXTS), 384) and got32.dtype == np.float32
    assert np.min(np.sum(got32 * ref, axis=1)) >= 0.999
    for got in (got8, gotm):
        cos = np.sum(got * ref, axis=1)
        assert np.min(cos) >= 0.95 and np.mean(cos) >= 0.98
        assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    # fp32 for the most sensitive matrices brings the vectors closer to PyTorch's than int8
    assert np.mean(np.sum(gotm * ref, axis=1)) > np.mean(np.sum(got8 * ref, axis=1))
    assert mixed.variant == "onnx-mixed"
    # A lone query takes the first one-thread session and gives the batch's vector.
    one = fp32.embed([TEXTS[0]])
    assert fp32._model.get_session_options().intra_op_num_threads == 1
    assert np.allclose(one[0], got32[0], atol=1e-5)
    assert fp32.count_tokens(TEXTS[0]) == embedder.count_tokens(TEXTS[0])
    assert fp32.embed([]).shape == (0, 384) and fp32.variant == "onnx-fp32"


def test_changed_source_weights_mean_a_new_build(built, tmp_path):
    from rag.embed import onnx_build

    folder, _ = built
    src = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), src)
    assert onnx_build.current(folder, src) is not None  # same bytes: same build
    weights = next(p for p in src.iterdir() if p.suffix in (".safetensors", ".bin"))
    with open(weights, "r+b") as fh:  # one byte of the weights changes
        fh.seek(4096)
        b = fh.read(1)
        fh.seek(4096)
        fh.write(bytes([b[0] ^ 1]))
    assert onnx_build.current(folder, src) is None


def test_falls_back_to_pytorch_when_the_build_cannot_be_made(tmp_path, embedder, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the models folder should be")
    emb = OnnxEmbedder(variant="int8", folder=blocker / "minilm-onnx")
    with caplog.at_level("WARNING"):
        got = emb.embed(TEXTS[:2])
    assert emb.variant == "torch" and "PyTorch" in emb.notice and "could not be used" in emb.notice
    assert "Traceback" not in emb.notice and emb.notice in caplog.text
    assert np.allclose(got, embedder.embed(TEXTS[:2]), atol=1e-5)


def test_falls_back_to_pytorch_when_onnxruntime_is_missing(tmp_path, monkeypatch, embedder):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails
    emb = OnnxEmbedder(variant="fp32", folder=tmp_path / "minilm-onnx")
    got = emb.embed(["a query"])
    assert emb.variant == "torch" and "ONNX Runtime is not installed" in emb.notice
    assert not (tmp_path / "minilm-onnx").exists()  # nothing built without a runtime
    assert np.allclose(got, embedder.embed(["a query"]), atol=1e-5)


def _libraries_use(built, monkeypatch, tmp_path):  # noqa: ANN001, ANN202
    """New libraries take their ONNX graphs from the test build, with no variant forced;
    returns that folder and an empty documents folder."""
    folder, _ = built
    monkeypatch.setenv("HEARTH_EMBEDDER_DIR", str(folder))
    monkeypatch.delenv("HEARTH_EMBEDDER", raising=False)
    docs = tmp_path / "docs"
    docs.mkdir()
    return folder, docs


def test_library_made_with_one_variant_reopens_with_the_other(built, tmp_path, monkeypatch):
    from rag.library import Library

    folder, docs = _libraries_use(built, monkeypatch, tmp_path)
    (docs / "bread.md").write_text("# Bread\n\nFeed the sourdough starter with flour and water.\n")
    (docs / "rocks.md").write_text("# Rocks\n\nBasalt columns form as thick lava flows cool.\n")
    data = tmp_path / "lib"
    with Library.open(data) as lib:  # a new library: the default variant
        lib.index([docs])
        assert lib.status()["vectors_made_by"] == "onnx-mixed"
    with Library.open(data) as lib:  # no choice given: the family that made the vectors
        assert lib.embedder.variant == "onnx-mixed" and lib.status()["embedder_notice"] == ""
        assert lib.search("sourdough starter", k=1)[0].path.endswith("bread.md")
    with Library.open(data, embedder=OnnxEmbedder(variant="fp32", folder=folder)) as lib:
        status = lib.status()
        assert "onnx-mixed" in status["embedder_notice"] and "Re-index" in status["embedder_notice"]
        assert lib.search("lava cooling into columns", k=1)[0].path.endswith("rocks.md")
        lib.index([docs], force=True)  # re-embeds everything: the notice is answered
        assert lib.status()["vectors_made_by"] == "onnx-fp32"
        assert lib.status()["embedder_notice"] == ""


def test_libraries_of_the_older_variants_keep_theirs(tmp_path, monkeypatch, built):
    """A library made while fp32 (or int8 by hand) was the choice is searched with that very
    variant after the default changed: same family for queries and stored vectors, no notice."""
    from rag.library import Library

    folder, docs = _libraries_use(built, monkeypatch, tmp_path)
    (docs / "a.md").write_text("# Tea\n\nGreen tea is steeped at 80 degrees for two minutes.\n")
    for variant in ("onnx-fp32", "onnx-int8"):
        data = tmp_path / variant
        with Library.open(data, embedder=OnnxEmbedder(variant=variant, folder=folder)) as lib:
            lib.index([docs])
        with Library.open(data) as lib:
            assert lib.embedder.variant == variant and lib.status()["embedder_notice"] == ""
            assert lib.status()["vectors_made_by"] == variant
            assert lib.search("how hot for green tea", k=1)[0].path.endswith("a.md")


def test_a_pytorch_library_is_searched_with_fp32_vectors(tmp_path, monkeypatch, built, embedder):
    """Libraries indexed before issue 28 (PyTorch) keep their vectors' family."""
    from rag.library import Library

    folder, docs = _libraries_use(built, monkeypatch, tmp_path)
    (docs / "a.md").write_text("# Tea\n\nGreen tea is steeped at 80 degrees for two minutes.\n")
    with Library.open(tmp_path / "lib", embedder=embedder) as lib:
        lib.index([docs])
        assert lib.status()["vectors_made_by"] == "torch"
    with Library.open(tmp_path / "lib") as lib:
        assert lib.embedder.variant == "onnx-fp32"
        assert lib.status()["embedder_notice"] == ""
        assert lib.search("how hot for green tea", k=1)[0].path.endswith("a.md")


def test_texts_are_spread_over_one_thread_sessions_in_order(built, embedder):
    """Each text runs alone on one of the workers; every vector lands on its own text's row."""
    folder, _ = built
    emb = OnnxEmbedder(variant="fp32", folder=folder, threads=3)
    texts = [f"copy {i}: {t}" for i in range(6) for t in TEXTS]
    got = emb.embed(texts)
    sessions, pool = emb._sessions()
    assert len(sessions) == 3 and pool is not None and pool is emb._pool
    want = embedder.embed(texts)
    assert np.min(np.sum(got * want, axis=1)) >= 0.999
    assert np.array_equal(np.argmax(got @ want.T, axis=1), np.arange(len(texts)))
    pairs = OnnxEmbedder(variant="fp32", folder=folder, threads=2, batch_size=2)
    assert np.min(np.sum(pairs.embed(texts) * want, axis=1)) >= 0.999  # runs of two, padded
    emb.close()
    assert emb._pool is None and emb._workers == []


def test_a_failed_run_stops_the_other_workers_and_is_raised(built, monkeypatch):
    """Fault injection on the real sessions: the third run fails; the caller gets that error
    once every worker has stopped, the rest of the texts are not run, and the next call works."""
    folder, _ = built
    emb = OnnxEmbedder(variant="fp32", folder=folder, threads=2)
    real = OnnxEmbedder._run
    calls: list[int] = []

    def failing(session, encs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the disk is on fire")
        return real(session, encs)

    texts = [f"copy {i}: {t}" for i in range(6) for t in TEXTS]
    monkeypatch.setattr(OnnxEmbedder, "_run", staticmethod(failing))
    with pytest.raises(RuntimeError, match="on fire"):
        emb.embed(texts)
    assert len(calls) <= 4 < len(texts)  # at most the other worker's run in flight
    monkeypatch.setattr(OnnxEmbedder, "_run", staticmethod(real))
    assert emb.embed(texts).shape == (len(texts), 384)


def test_the_build_runs_in_a_child_and_torch_stays_out(tmp_path):
    """The export needs PyTorch; it runs in a child, so Hearth's own process never loads it."""
    import json
    import subprocess

    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from rag.embed.embed_onnx import ensure_built\n"
        "from rag.embed.embeddings import bundled_model_dir\n"
        "rec = ensure_built(Path(sys.argv[1]), bundled_model_dir())\n"
        "print(json.dumps({'checked': rec['checked'], 'torch': 'torch' in sys.modules}))\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "minilm-onnx")],
                         capture_output=True, text=True, timeout=600, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"checked": True, "torch": False}


def test_a_failed_child_build_says_why(tmp_path):
    from rag.embed import onnx_build
    from rag.embed.embed_onnx import ensure_built

    broken = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), broken)
    (broken / "config.json").write_text("{ not json")
    with pytest.raises(onnx_build.BuildFailed) as err:
        ensure_built(tmp_path / "minilm-onnx", broken)
    assert "Traceback" not in str(err.value) and str(err.value).strip()
    assert onnx_build.current(tmp_path / "minilm-onnx", broken) is None
