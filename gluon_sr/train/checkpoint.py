"""Training checkpoints: params, trainer (optimizer) states and progress, written atomically.

Files are named by step; `latest.json`, replaced last, names the complete set and holds the
sha256 of both files. A crash while writing leaves the previous checkpoint in force, never a
half-written one. On resume both files are verified against their hashes before anything is
read, so a damaged (or swapped) `.states` file is never unpickled: MXNet's
`Trainer.load_states` unpickles it. Only finite parameters are ever checkpointed.
"""
import os

import numpy as np

from gluon_sr.utils.errors import GluonSRError, describe
from gluon_sr.utils.fileio import atomic_path, atomic_write_json, read_json_if_exists, sha256_file

LATEST = "latest.json"


def parameters_are_finite(net):
    return all(np.isfinite(p.data().asnumpy()).all() for p in net.collect_params().values())


def _files(net, trainer, extra):
    """{suffix: (save, load)}: the net, its trainer, and a task's other state (`extra`)."""
    return {".params": (net.save_parameters, net.load_parameters),
            ".states": (trainer.save_states, trainer.load_states), **(extra or {})}


def save_checkpoint(run_dir, step, net, trainer, state, keep=2, extra=None):
    os.makedirs(run_dir, exist_ok=True)
    stem = f"ckpt-{step:07d}"
    files = {}
    for suffix, (write, _) in _files(net, trainer, extra).items():
        path = os.path.join(run_dir, stem + suffix)
        with atomic_path(path, suffix) as tmp:
            write(tmp)
            files[suffix] = sha256_file(tmp)
    atomic_write_json(os.path.join(run_dir, LATEST),
                      {"step": step, "stem": stem, "sha256": files, **state})
    stems = sorted({f.split(".")[0] for f in os.listdir(run_dir)
                    if f.startswith("ckpt-") and f.endswith(".params")})
    for old in stems[:-keep]:
        for suffix in files:
            path = os.path.join(run_dir, old + suffix)
            if os.path.exists(path):
                os.unlink(path)


def read_latest(run_dir):
    """The saved state of run_dir's latest checkpoint, or None if it has none."""
    return read_json_if_exists(os.path.join(run_dir, LATEST), "checkpoint record")


def restore_checkpoint(run_dir, state, net, trainer, ctx, extra=None):
    """Load the params, trainer states and `extra` files that `state` (from read_latest)
    names, after checking every file against the hash recorded with it."""
    try:
        stem = os.path.join(run_dir, state["stem"])
        hashes = state["sha256"]
    except (KeyError, TypeError):
        raise GluonSRError(f"{run_dir}/{LATEST}: names no verifiable checkpoint; cannot resume")
    files = _files(net, trainer, extra)
    for suffix in files:
        path = stem + suffix
        if not os.path.exists(path):
            raise GluonSRError(f"{path}: checkpoint file missing; cannot resume")
        if sha256_file(path) != hashes.get(suffix):
            raise GluonSRError(f"{path}: checkpoint file damaged (sha256 differs from "
                               f"{LATEST}); cannot resume")
    try:
        net.load_parameters(stem + ".params", ctx=ctx)
        for suffix, (_, load) in files.items():
            if suffix != ".params":
                load(stem + suffix)
    except Exception as e:  # mismatched files; MXNet raises assorted types
        raise GluonSRError(f"{run_dir}: cannot resume from checkpoint ({describe(e)})")
