"""Hearth benchmarks: retrieval quality (BEIR SciFact), indexing, search, generation, cold start
and memory. Run `python -m bench all --scifact PATH` (or `make bench`); results go to
`bench/results/latest.json` and the table in `docs/benchmarks.md`.

Why ratios: the machines these run on are shared and noisy, so every speed figure is paired with a
reference measured in the same run (raw encoder, raw llama.cpp) and reported as a ratio.
"""
