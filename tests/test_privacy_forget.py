"""True forgetting: after `forget`, nothing of the document is left in any file of the data dir.

We index a document carrying a unique canary (in its text and its file name), forget it, then read
every byte of every file under the data dir looking for the canary (UTF-8 and UTF-16), its chunk
ids (they embed a prefix of the file's SHA-256) and the raw float32 bytes of its vectors (an
embedding can be inverted back to approximate text). A second, kept document is the positive
control: its canary must still be found, proving the scan can see stored text at all.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

FILLER = " ".join(f"The lighthouse keeper logged storm number {i} in the harbour book."
                  for i in range(60))


def canary() -> str:
    # Lower-case letters/digits ending in "xk": the FTS5 porter stemmer leaves it unchanged.
    return "qz" + uuid.uuid4().hex + "xk"


def needle_forms(text: str) -> dict[str, bytes]:
    return {"utf-8": text.encode(), "utf-16-le": text.encode("utf-16-le"),
            "utf-16-be": text.encode("utf-16-be")}


# `embedder` is the session fixture in tests/conftest.py (the real bundled MiniLM).


def find_in_dir(root: Path, needles: dict[str, bytes]) -> list[str]:
    """'<needle name> in <file>' for every needle found in any regular file under root."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{name} in {path.relative_to(root)}" for name, n in needles.items()
                      if n in data]
    return found


def make_docs(folder: Path) -> tuple[Path, str, Path, str]:
    folder.mkdir(parents=True, exist_ok=True)
    gone, kept = canary(), canary()
    secret = folder / f"secret-{gone}.txt"
    secret.write_text(f"Private note. The code word is {gone}. {FILLER} Again {gone}.",
                      encoding="utf-8")
    keep = folder / "keep.txt"
    keep.write_text(f"Kept note with marker {kept}. {FILLER}", encoding="utf-8")
    return secret, gone, keep, kept


def _vector_fingerprints(lib, doc_id: int) -> tuple[list[str], list[bytes]]:
    """Chunk ids and the first 64 bytes of each stored vector of one document.

    Reaches into the chroma collection on purpose: we need the exact bytes chroma persisted.
    """
    ids = lib.store.ids_for_doc(doc_id)
    got = lib.store._col.get(ids=ids, include=["embeddings"])
    vectors = [np.asarray(v, dtype=np.float32).tobytes()[:64] for v in got["embeddings"]]
    return list(got["ids"]), vectors


@pytest.mark.slow
def test_forget_leaves_no_trace(tmp_path, embedder):
    from rag.library import Library

    secret, gone, keep, kept = make_docs(tmp_path / "docs")
    data = tmp_path / "data"
    with Library.open(data, embedder=embedder, owner="test forget") as lib:
        report = lib.index([tmp_path / "docs"])
        assert report.count("indexed") == 2, report.to_json()
        doc_id = lib.manifest.get(str(secret)).id
        chunk_ids, vectors = _vector_fingerprints(lib, doc_id)
        assert chunk_ids and len(vectors) == len(chunk_ids)
        assert any(gone in h.text for h in lib.search(gone, k=3))
        # Before forgetting, the scan does find the secret (it is stored, as text, somewhere).
        assert find_in_dir(data, {"canary": gone.encode()})

        assert lib.forget(secret) == 1
        assert lib.search(gone, k=3, mode="keyword") == []
        assert all(gone not in h.text for h in lib.search(gone, k=5))
        assert lib.status()["documents"] == 1

    needles = {f"canary ({form})": b for form, b in needle_forms(gone).items()}
    needles.update({f"chunk id {cid}": cid.encode() for cid in chunk_ids})
    needles["file hash prefix"] = chunk_ids[0].split(":")[1].encode()
    needles.update({f"vector bytes of chunk {i}": v for i, v in enumerate(vectors)})
    leftovers = find_in_dir(data, needles)
    assert leftovers == [], "forgotten document still on disk:\n" + "\n".join(leftovers)
    # Positive control: the kept document is still stored (and found by the same scan).
    assert find_in_dir(data, {"kept": kept.encode()}) != []


@pytest.mark.slow
def test_forget_folder_and_wipe_leave_no_trace(tmp_path, embedder):
    from rag.library import Library

    secret, gone, keep, kept = make_docs(tmp_path / "docs")
    other_gone = canary()
    (tmp_path / "docs" / "sub").mkdir()
    (tmp_path / "docs" / "sub" / "more.txt").write_text(f"{other_gone} {FILLER}")
    data = tmp_path / "data"
    with Library.open(data, embedder=embedder, owner="test wipe") as lib:
        assert lib.index([tmp_path / "docs"]).count("indexed") == 3
        assert find_in_dir(data, needle_forms(other_gone)) != []  # on disk before forgetting
        assert lib.forget(tmp_path / "docs" / "sub") == 1
        assert find_in_dir(data, needle_forms(other_gone)) == []
        lib.wipe()
        assert lib.status()["documents"] == 0 and lib.status()["chunks"] == 0
        assert lib.search("lighthouse keeper", k=3) == []
    for word in (gone, kept, other_gone):
        assert find_in_dir(data, needle_forms(word)) == [], word
    # The library still works after a wipe.
    with Library.open(data, embedder=embedder, owner="test wipe") as lib:
        assert lib.index([keep]).count("indexed") == 1
        assert any(kept in h.text for h in lib.search(kept, k=3))



def test_deleted_conversation_leaves_no_trace(tmp_path):
    """A deleted chat (question, answer, quoted sources) is scrubbed from history.sqlite3."""
    from app.history import History

    gone, kept = canary(), canary()
    with History.open(tmp_path) as history:
        doomed = history.create(f"About {gone}")
        history.add_message(doomed.id, "user", f"What is {gone}?")
        history.add_message(doomed.id, "assistant", f"It is {gone} [1].",
                            sources=[{"n": 1, "path": "/x.txt", "text": f"quote {gone}"}])
        keep = history.create("Other chat")
        history.add_message(keep.id, "user", f"And {kept}?")
        history.delete(doomed.id)
    assert find_in_dir(tmp_path, needle_forms(gone)) == []
    assert find_in_dir(tmp_path, {"kept": kept.encode()}) != []


@pytest.mark.slow
def test_cli_forget_and_forget_all_leave_no_trace(tmp_path):
    """The user's commands: `hearth index`, `hearth forget PATH`, `hearth forget --all`."""
    import hashlib
    import json
    import subprocess

    import netcheck

    secret, gone, keep, kept = make_docs(tmp_path / "docs")
    file_hash = hashlib.sha256(secret.read_bytes()).hexdigest()[:12]
    data = tmp_path / "data"
    env = netcheck.clean_env(data)

    def hearth(*args: str) -> dict:
        proc = subprocess.run([*netcheck.hearth_command(), *args, "--json"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout)

    assert hearth("index", str(tmp_path / "docs"))["indexed"] == 2
    assert find_in_dir(data, {"canary": gone.encode()})  # stored before forgetting
    assert hearth("forget", str(secret))["forgotten"] == 1
    needles = {f"canary ({form})": b for form, b in needle_forms(gone).items()}
    needles["file hash prefix (chunk ids)"] = file_hash.encode()
    leftovers = find_in_dir(data, needles)
    assert leftovers == [], "forgotten document still on disk:\n" + "\n".join(leftovers)
    assert find_in_dir(data, {"kept": kept.encode()}) != []

    assert hearth("forget", "--all")["all"] is True
    assert find_in_dir(data, needle_forms(kept)) == []
    assert hearth("status")["documents"] == 0
