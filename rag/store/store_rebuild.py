"""Child process of `ChromaStore.compact`: build a collection from rows given on stdin.

Why a separate process: chroma's HNSW files were seen to carry stale heap bytes (chunk ids of
forgotten documents) when written by a process that had held those ids. This process only ever
holds the surviving rows, so whatever stale bytes it writes are theirs.
"""

from __future__ import annotations

import pickle
import sys


def main() -> int:
    from rag.offline.privacy import install_guard, set_offline_env

    set_offline_env()
    install_guard()
    job = pickle.loads(sys.stdin.buffer.read())
    import chromadb

    from rag.store.store import _chroma_settings

    client = chromadb.PersistentClient(path=job["path"], settings=_chroma_settings())
    col = client.get_or_create_collection(job["collection"], metadata=job["meta"],
                                          embedding_function=None)
    ids, metas, vectors, step = job["ids"], job["metas"], job["vectors"], job["step"]
    for i in range(0, len(ids), step):
        col.add(ids=ids[i:i + step], embeddings=vectors[i:i + step], metadatas=metas[i:i + step])
    client.clear_system_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
