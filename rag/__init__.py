"""Hearth's headless retrieval core: loaders, chunking, embeddings, store, retrieval, answering.

Never imports Qt (enforced by an import-linter contract and tests/test_architecture.py).
"""
