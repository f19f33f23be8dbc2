"""What a training run is told: the loop's settings (`TrainConfig`) and the task's own options.

A run's settings come, each overriding the one before, from: the dataclass defaults here, the
task's recommended recipe (`Task.recipe`), a recipe file (`train.py --config configs/NAME.json`)
and the command-line flags. A recipe file is JSON:

    {"description": "...", "data": "python data_prep/build.py ...",
     "stages": [{"name": "sr_x4", "task": "sr", "shards": "shards/x4_bi", ...},
                {"init": "sr_x4", "steps": 3000, "lr": 2e-4}]}

Each stage takes the stage before it and changes what it lists; a file may also be a single
stage (a flat dict). The sidecar of the trained model records the resolved settings.
"""
import json
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.paths import TRAINED_DIR

LR_MODES = ("cosine", "step", "linear", "poly", "constant")


@dataclass
class TrainConfig:
    """The task-independent settings of a run; `options` holds the task's own."""
    name: str
    task: str = "sr"
    arch: str = ""                      # "" = the task's recipe
    model_config: dict = field(default_factory=dict)
    steps: int = 1000
    batch_size: int = 8                 # global: all workers and devices together
    lr: float = 1e-3
    lr_mode: str = "cosine"
    lr_final: Optional[float] = None    # final lr / lr; None = 0.01 (1 in constant mode)
    warmup: int = 0
    seed: int = 0
    gpus: str = ""
    ctx: str = ""
    kvstore: str = "device"
    val_every: int = 500
    checkpoint_every: int = 200
    log_every: int = 20
    run_dir: str = ""
    out_dir: str = TRAINED_DIR
    resume: bool = False
    init: str = ""                      # start from a trained model's weights (fine-tuning)
    progress: bool = True
    inference: dict = field(default_factory=dict)   # how to run the model: the sidecar's "inference"
    options: object = None              # the task's Options dataclass

    def run_path(self):
        return self.run_dir or os.path.join("runs", self.name)

    def warmup_steps(self):
        """The warm-up, at most a tenth of the run (a recipe's warm-up in a short trial run)."""
        return min(self.warmup, self.steps // 10)

    def final_lr_fraction(self):
        if self.lr_final is None:
            return 1.0 if self.lr_mode == "constant" else 0.01
        return self.lr_final

    def validate(self):
        if self.steps < 1 or self.batch_size < 1:
            raise GluonSRError("--steps and --batch-size must be >= 1")
        if self.lr <= 0:
            raise GluonSRError("--lr must be > 0")
        if self.lr_mode not in LR_MODES:
            raise GluonSRError(f"--lr-mode must be one of {', '.join(LR_MODES)}")
        if self.lr_mode == "constant" and self.lr_final not in (None, 1.0):
            raise GluonSRError("--lr-final does not apply to --lr-mode constant")
        if self.lr_final is not None and not 0 < self.lr_final <= 1:
            raise GluonSRError("--lr-final must be in (0, 1]")
        if self.warmup < 0:
            raise GluonSRError("--warmup must be >= 0")
        if min(self.val_every, self.checkpoint_every, self.log_every) < 1:
            raise GluonSRError("--val-every, --checkpoint-every and --log-every must be >= 1")
        if not self.name or os.sep in self.name or self.name in (".", ".."):
            raise GluonSRError(f"--name must be a plain file name, got {self.name!r}")

    def record(self):
        """The settings as the sidecar keeps them: one flat dict, task options included."""
        loop = {k: v for k, v in asdict(self).items()
                if k not in ("options", "resume", "progress", "out_dir", "run_dir", "gpus", "ctx",
                             "inference")}
        loop["lr_final"] = self.final_lr_fraction()
        loop["warmup"] = self.warmup_steps()
        return {**loop, **asdict(self.options)}


LOOP_KEYS = {f.name for f in fields(TrainConfig)} - {"options"}


def make_config(settings, options_class, source="settings"):
    """TrainConfig from one flat dict of settings; keys the loop does not know go to the
    task's options. A key neither knows is an error naming it and where it came from."""
    option_keys = {f.name for f in fields(options_class)}
    unknown = sorted(set(settings) - LOOP_KEYS - option_keys)
    if unknown:
        raise GluonSRError(f"{source}: {', '.join(unknown)} does not apply to the "
                           f"{settings.get('task', 'sr')} task")
    options = options_class(**{k: _as_field(v) for k, v in settings.items() if k in option_keys})
    cfg = TrainConfig(**{k: _as_field(v) for k, v in settings.items() if k in LOOP_KEYS},
                      options=options)
    return cfg


def _as_field(value):
    # JSON has no tuples; the dataclasses keep layer lists as tuples.
    return tuple(value) if isinstance(value, list) else value


def read_recipe(path):
    """The stages of a recipe file, each a complete dict of settings (earlier stages folded in)."""
    try:
        with open(path) as f:
            recipe = json.load(f)
    except OSError as e:
        raise GluonSRError(f"{path}: cannot read recipe ({e.strerror})")
    except ValueError as e:
        raise GluonSRError(f"{path}: not valid JSON ({e})")
    if not isinstance(recipe, dict):
        raise GluonSRError(f"{path}: a recipe is a JSON object")
    stages = recipe.get("stages", [recipe])
    if not isinstance(stages, list) or not stages or not all(isinstance(s, dict) for s in stages):
        raise GluonSRError(f"{path}: 'stages' must be a non-empty list of objects")
    resolved, current = [], {}
    for stage in stages:
        current = {**current, **{k: v for k, v in stage.items()
                                 if k not in ("description", "data", "stages")}}
        resolved.append(dict(current))
    return resolved
