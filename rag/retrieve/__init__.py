"""Search: dense and keyword results fused into one ranking."""
