"""Text -> vectors: the `Embedder` interface, the bundled MiniLM on PyTorch and on ONNX Runtime."""
