"""Deployment: Gluon/ONNX export, the ONNX Runtime backend (no MXNet), bf16/int8."""
