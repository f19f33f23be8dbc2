"""Starting a training run: settings resolved against the task's recipe, devices, kvstore."""
from gluon_sr.train.config import make_config
from gluon_sr.train.distributed import open_kvstore
from gluon_sr.train.loop import run_training
from gluon_sr.train.tasks import TASKS
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.runtime import parse_contexts


def resolve_config(settings, source="settings"):
    """TrainConfig from flat settings on top of the task's recommended recipe."""
    task = settings.get("task", "sr")
    if task not in TASKS:
        raise GluonSRError(f"{source}: unknown task {task!r}; choose from {', '.join(TASKS)}")
    recipe = TASKS[task].recipe
    merged = {**recipe, **settings, "task": task}
    if "arch" in settings and settings["arch"] != recipe.get("arch"):
        merged["model_config"] = settings.get("model_config", {})   # the preset's own sizes
    else:
        merged["model_config"] = {**recipe.get("model_config", {}),
                                  **settings.get("model_config", {})}
    return make_config(merged, TASKS[task].Options, source)


def train(cfg, command=""):
    """Train as `cfg` (a TrainConfig) says. Returns the model JSON path (None on the workers of
    a distributed run other than rank 0)."""
    cfg.validate()
    ctx = parse_contexts(cfg.gpus, cfg.ctx)
    kvstore, rank, num_workers = open_kvstore(cfg.kvstore)
    if cfg.batch_size % num_workers or cfg.batch_size // num_workers < len(ctx):
        raise GluonSRError(f"batch size {cfg.batch_size} does not split over {num_workers} "
                           f"worker(s) x {len(ctx)} device(s)")
    task = TASKS[cfg.task](cfg, ctx)
    return run_training(cfg, task, ctx, command, kvstore, rank, num_workers)
