"""Inference: one loader for every backend and precision (loader.py), tiling, and the
image-level runners (Upscaler, Stylizer, GatysStylizer) that infer.py calls."""
