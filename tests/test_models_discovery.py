"""Discovery over fake folder layouts of each tool (real, tiny GGUF files), and `models add`."""

from __future__ import annotations

import json
import os

import pytest
from tiny_gguf import write_tiny_gguf

from inference.base import ModelError
from inference.bundled import BUNDLED_NAME, bundled_model_path
from inference.discovery import (
    DiscoveryRoots,
    add_model,
    default_roots,
    discover_models,
    find_model,
)


@pytest.fixture
def layout(tmp_path):
    """One fake install of every tool under tmp_path, returning the roots."""
    home = tmp_path / "home"
    data = tmp_path / "data"
    write_tiny_gguf(data / "models" / "mine.gguf", name="mine")
    g4a = home / ".local/share/nomic.ai/GPT4All"
    write_tiny_gguf(g4a / "Meta-Llama-3-8B-Instruct.Q4_0.gguf")
    (g4a / "localdocs_v3.db").write_bytes(b"SQLite format 3\0")  # not a model
    lms = home / ".lmstudio/models"
    write_tiny_gguf(lms / "lmstudio-community/Qwen2.5-1.5B-Instruct-GGUF/Qwen2.5-1.5B-Instruct-Q4_K_M.gguf")
    write_tiny_gguf(lms / "lmstudio-community/Qwen2-VL-GGUF/mmproj-Qwen2-VL-f16.gguf")  # projector
    ollama = home / ".ollama/models"
    blob_hex = "ab" * 32
    write_tiny_gguf(ollama / "blobs" / f"sha256-{blob_hex}", arch="qwen2")
    (ollama / "blobs" / f"sha256-{'cd' * 32}").write_text('{"license": "text"}')
    manifest = {"schemaVersion": 2, "layers": [
        {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{blob_hex}"},
        {"mediaType": "application/vnd.ollama.image.license", "digest": f"sha256:{'cd' * 32}"}]}
    mdir = ollama / "manifests/registry.ollama.ai/library/qwen2.5"
    mdir.mkdir(parents=True)
    (mdir / "0.5b").write_text(json.dumps(manifest))
    (ollama / "manifests/registry.ollama.ai/library/broken").mkdir(parents=True)
    (ollama / "manifests/registry.ollama.ai/library/broken/latest").write_text("{not json")
    hub = home / ".cache/huggingface/hub"
    blob = write_tiny_gguf(hub / "models--bartowski--Llama-3.2-1B-Instruct-GGUF/blobs/0123abcd")
    snap = hub / "models--bartowski--Llama-3.2-1B-Instruct-GGUF/snapshots/deadbeef"
    snap.mkdir(parents=True)
    os.symlink(blob, snap / "Llama-3.2-1B-Instruct-Q4_K_M.gguf")
    lcpp = home / ".cache/llama.cpp"
    write_tiny_gguf(lcpp / "ggml-org_gemma-3-1b-it-GGUF_gemma-3-1b-it-Q4_K_M.gguf")
    write_tiny_gguf(lcpp / "big-model-00001-of-00002.gguf")
    write_tiny_gguf(lcpp / "big-model-00002-of-00002.gguf")  # second shard: not listed
    roots = default_roots(data_dir=data, home=home, env={})
    return roots, data


def test_each_tool_layout_is_found_with_sensible_names(layout):
    roots, data = layout
    entries = {e.name: e for e in discover_models(data, roots)}
    assert entries[BUNDLED_NAME].source == "bundled"
    assert entries["mine"].source == "hearth" and not entries["mine"].read_only
    assert entries["Meta-Llama-3-8B-Instruct.Q4_0"].source == "gpt4all"
    lms = "lmstudio-community/Qwen2.5-1.5B-Instruct-GGUF/Qwen2.5-1.5B-Instruct-Q4_K_M"
    assert entries[lms].source == "lmstudio"
    assert entries["qwen2.5:0.5b"].source == "ollama"
    assert entries["qwen2.5:0.5b"].path.endswith("sha256-" + "ab" * 32)
    hf = "bartowski/Llama-3.2-1B-Instruct-GGUF/Llama-3.2-1B-Instruct-Q4_K_M"
    assert entries[hf].source == "huggingface"
    assert entries["ggml-org_gemma-3-1b-it-GGUF_gemma-3-1b-it-Q4_K_M"].source == "llamacpp"
    assert "big-model-00001-of-00002" in entries
    names = " ".join(entries)
    assert "mmproj" not in names and "00002-of" not in names and "broken" not in names
    assert all(e.read_only for e in entries.values() if e.source not in ("hearth",))


def test_with_info_reads_headers(layout):
    roots, data = layout
    entries = {e.name: e for e in discover_models(data, roots, with_info=True)}
    assert entries["qwen2.5:0.5b"].info.architecture == "qwen2"
    assert entries[BUNDLED_NAME].info.quantization == "Q4_1"
    from inference.answer_model import PINNED

    # the pinned Qwen files are joined on first use: before that they have no header to read
    pinned = {m.name for m in PINNED}
    assert all(e.info is not None and e.error is None for e in entries.values()
               if e.name not in pinned)
    for name in pinned & set(entries):
        assert entries[name].source == "bundled" and entries[name].error is None


def test_empty_or_missing_roots_find_only_bundled(tmp_path):
    roots = DiscoveryRoots(hearth=[tmp_path / "nothing"], ollama=[tmp_path / "nope"])
    entries = discover_models(tmp_path, roots)
    assert [e.source for e in entries] == ["bundled"] * len(entries) and entries


def test_duplicate_names_are_made_unique(tmp_path):
    write_tiny_gguf(tmp_path / "a" / "same.gguf")
    write_tiny_gguf(tmp_path / "b" / "same.gguf")
    roots = DiscoveryRoots(hearth=[tmp_path / "a"], gpt4all=[tmp_path / "b"],
                           include_bundled=False)
    names = sorted(e.name for e in discover_models(tmp_path, roots))
    assert names == ["same", "same (gpt4all)"]


def test_find_model_by_name_stem_and_substring(layout):
    roots, data = layout
    assert find_model("qwen2.5:0.5b", data, roots).source == "ollama"
    assert find_model("Qwen2.5-1.5B-Instruct-Q4_K_M", data, roots).source == "lmstudio"
    assert find_model("llama-3.2-1b", data, roots).source == "huggingface"
    assert find_model("no such thing", data, roots) is None


def test_env_overrides_for_ollama_hf_and_llama_cache(tmp_path):
    env = {"OLLAMA_MODELS": str(tmp_path / "o"), "HF_HUB_CACHE": str(tmp_path / "h"),
           "LLAMA_CACHE": str(tmp_path / "l")}
    roots = default_roots(data_dir=tmp_path, home=tmp_path / "home", env=env)
    assert roots.ollama == [tmp_path / "o"] and roots.huggingface == [tmp_path / "h"]
    assert roots.llamacpp == [tmp_path / "l"]


def test_add_model_copies_into_data_dir_and_is_then_discovered(tmp_path):
    src = tmp_path / "downloads" / "SmolCopy.gguf"
    src.parent.mkdir()
    os.symlink(bundled_model_path(), src)
    data = tmp_path / "data"
    entry = add_model(src, data)
    dest = data / "models" / "SmolCopy.gguf"
    assert entry.path == str(dest) and dest.is_file() and not dest.is_symlink()
    assert dest.stat().st_size == bundled_model_path().stat().st_size
    again = add_model(src, data)  # same file again: no second copy
    assert again.path == str(dest) and len(list((data / "models").iterdir())) == 1
    roots = DiscoveryRoots(hearth=[data / "models"], include_bundled=False)
    assert [e.name for e in discover_models(data, roots)] == ["SmolCopy"]


def test_add_model_refuses_bad_files(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"nope" * 100)
    with pytest.raises(ModelError, match="not a GGUF"):
        add_model(bad, tmp_path / "data")
    assert not (tmp_path / "data" / "models" / "bad.gguf").exists()
