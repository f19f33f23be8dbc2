"""What every bench measurement shares: the test inputs and the timing rule (median of
--repeat runs after warm-up). Imported in the MXNet process and in the reference workers."""
import time

import numpy as np

OUTPUT_SIDE = 1024        # SR inference output of about 1 MP
STYLE_SIDE = 512          # style networks: a 512x512 photo
TRAIN_BATCH, TRAIN_PATCH = 16, 48   # the shipped models' training step (LR patch side)


def median_seconds(fn, repeat, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def test_input(meta, seed=0):
    """The bench input of a model (by its description) and its output megapixels."""
    scale = meta["config"].get("scale", 1) if meta.get("task", "sr") == "sr" else 1
    side = OUTPUT_SIDE // scale if meta.get("task", "sr") == "sr" else STYLE_SIDE
    x = np.random.default_rng(seed).uniform(0, 1, (1, 3, side, side)).astype(np.float32)
    return x, (side * scale) ** 2 / 1e6


def train_batch(scale, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (TRAIN_BATCH, 3, TRAIN_PATCH, TRAIN_PATCH)).astype(np.float32)
    y = rng.uniform(0, 1, (TRAIN_BATCH, 3, TRAIN_PATCH * scale, TRAIN_PATCH * scale))
    return x, y.astype(np.float32)
