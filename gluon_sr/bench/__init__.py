"""Speed: inference and training throughput on every path, against PyTorch and ONNX Runtime."""
