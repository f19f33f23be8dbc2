"""Training checkpoints: params, trainer (optimizer) states and progress, written atomically.

Files are named by step; `latest.json`, replaced last, names the complete set. A crash while
writing leaves the previous checkpoint in force, never a half-written one.
"""
import os

from gluon_sr.utils.errors import GluonSRError, describe
from gluon_sr.utils.fileio import atomic_path, atomic_write_json, read_json_if_exists

LATEST = "latest.json"


def save_checkpoint(run_dir, step, net, trainer, state, keep=2):
    os.makedirs(run_dir, exist_ok=True)
    stem = f"ckpt-{step:07d}"
    with atomic_path(os.path.join(run_dir, stem + ".params"), ".params") as tmp:
        net.save_parameters(tmp)
    with atomic_path(os.path.join(run_dir, stem + ".states"), ".states") as tmp:
        trainer.save_states(tmp)
    atomic_write_json(os.path.join(run_dir, LATEST), {"step": step, "stem": stem, **state})
    stems = sorted(f[:-7] for f in os.listdir(run_dir) if f.startswith("ckpt-") and f.endswith(".params"))
    for old in stems[:-keep]:
        for suffix in (".params", ".states"):
            path = os.path.join(run_dir, old + suffix)
            if os.path.exists(path):
                os.unlink(path)


def read_latest(run_dir):
    """The saved state of run_dir's latest checkpoint, or None if it has none."""
    return read_json_if_exists(os.path.join(run_dir, LATEST), "checkpoint record")


def restore_checkpoint(run_dir, state, net, trainer, ctx):
    """Load the params and trainer states that `state` (from read_latest) names."""
    try:
        stem = os.path.join(run_dir, state["stem"])
        net.load_parameters(stem + ".params", ctx=ctx)
        trainer.load_states(stem + ".states")
    except Exception as e:  # missing or mismatched files; MXNet raises assorted types
        detail = describe(e)
        raise GluonSRError(f"{run_dir}: cannot resume from checkpoint ({detail})")
