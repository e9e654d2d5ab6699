"""The answering layer: evidence, prompt, budget, the streamed answer and its checks (above inference)."""
