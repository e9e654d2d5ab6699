"""Hearth's headless model layer: GGUF discovery, loading, templates, streaming, budget, routing.

Never imports Qt (enforced by an import-linter contract and tests/test_architecture.py).
"""
