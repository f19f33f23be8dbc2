"""The task-independent training loop: optimiser, schedule, resume, logs, checkpoints, save.

It knows tasks only through the interface in task.py. Batches are split over devices by the
task (`split_and_load`); the Trainer reduces gradients through a kvstore. Atomic checkpoints
allow `--resume` at the exact step with the same data order. The result is
`OUT_DIR/NAME.params` plus its JSON sidecar, and a Gluon export in the run folder.
"""
import json
import logging
import os
import time

import numpy as np

from gluon_sr.archs import canonical_spec, model_spec
from gluon_sr.deploy.export import export_gluon
from gluon_sr.model_store import load_model, resolve, save_model
from gluon_sr.train import checkpoint as ckpt
from gluon_sr.train.distributed import parameter_checksum, settle_initial_weights
from gluon_sr.train.lock import RunLock
from gluon_sr.train.plotting import plot_training_curves, read_log
from gluon_sr.train.schedule import make_schedule
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.fileio import atomic_path, output_folder
from gluon_sr.utils.logs import RankLogger

logger = logging.getLogger(__name__)


def run_training(cfg, task, ctx, command="", kvstore=None, rank=0, num_workers=1):
    """Train `task.net` as `cfg` says. Returns the path of the model JSON (None on the
    workers of a distributed run other than rank 0, which alone writes files and holds the
    run folder's lock).

    In a distributed run each worker trains on its share of every global batch (batch_size /
    num_workers samples); gradients are summed over workers and devices through the kvstore
    and every worker applies the same update, so parameters stay identical.
    """
    run_dir = cfg.run_path()
    if rank:
        return _train(cfg, task, ctx, command, kvstore, rank, num_workers)
    output_folder(run_dir)
    with RunLock(run_dir, cfg.name):
        return _train(cfg, task, ctx, command, kvstore, rank, num_workers)


def _train(cfg, task, ctx, command, kvstore, rank, num_workers):
    import mxnet as mx
    from mxnet import autograd, gluon
    from tqdm import tqdm

    log = RankLogger(logger, rank, num_workers)
    mx.random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    kvstore = cfg.kvstore if kvstore is None else kvstore
    distributed = num_workers > 1 or not isinstance(kvstore, str)
    chief = rank == 0
    local_batch = cfg.batch_size // num_workers
    run_dir = cfg.run_path()
    net = task.net
    # Uniform(+-1/sqrt(fan_in)), PyTorch's default scale. He init (magnitude 2) doubles the
    # activation variance in every block of a norm-free residual body: a 16-block EDSR then
    # starts with outputs in the hundreds.
    net.initialize(mx.init.Xavier(rnd_type="uniform", factor_type="in", magnitude=1), ctx=ctx)
    if cfg.init and not cfg.resume:
        _load_initial_weights(net, cfg.init, cfg.out_dir, ctx)
    net.hybridize(static_alloc=True, static_shape=True)

    # Distributed: servers only sum gradients and each worker runs Adam itself, so the lr
    # schedule (set here, step by step) reaches the optimiser; with the optimiser on the
    # servers it would keep its first learning rate.
    trainer = gluon.Trainer(net.collect_params(), "adam",
                            {"learning_rate": cfg.lr, "beta1": 0.9, "beta2": 0.999},
                            kvstore=kvstore, update_on_kvstore=False if distributed else None)
    if cfg.warmup_steps() < cfg.warmup:
        log.info(f"note: warm-up shortened to {cfg.warmup_steps()} steps, a tenth of the run")
    schedule = make_schedule(cfg.steps, cfg.lr, cfg.lr_mode, cfg.final_lr_fraction(),
                             cfg.warmup_steps())
    spec = model_spec(net)

    start_step, elapsed_before = 0, 0.0
    log_path = os.path.join(run_dir, "log.jsonl")
    if cfg.resume:
        state = ckpt.read_latest(run_dir)
        if state is None:
            log.info(f"no checkpoint in {run_dir}; starting from scratch")
        else:
            if _spec_of(state) != spec:
                raise GluonSRError(f"{run_dir}: checkpoint is of a different model "
                                   f"({state.get('spec')}); use another --name")
            ckpt.restore_checkpoint(run_dir, state, net, trainer, ctx,
                                    extra=task.checkpoint_files())
            if state.get("data") != task.data_hash:
                log.warning("the training data changed since the checkpoint was written")
            start_step, elapsed_before = state["step"], state.get("elapsed_s", 0.0)
            log.info(f"resumed {cfg.name} at step {start_step}")
            if chief:
                _truncate_log(log_path, start_step)
    elif ckpt.read_latest(run_dir) is not None:
        raise GluonSRError(f"{run_dir} already holds a run; pass --resume to continue it "
                           "or choose another --name / --run-dir")
    elif chief:
        open(log_path, "w").close()

    def write_checkpoint(step):
        if not chief:
            return
        if not ckpt.parameters_are_finite(net):
            latest = ckpt.read_latest(run_dir)
            raise GluonSRError(f"the parameters became NaN or infinite by step {step}; lower "
                               "--lr (the last checkpoint, " + (f"step {latest['step']}, is "
                               "intact" if latest else "none, was not replaced") + ")")
        ckpt.save_checkpoint(run_dir, step, net, trainer,
                             {"spec": spec, "data": task.data_hash,
                              "elapsed_s": elapsed_before + time.time() - t_start},
                             extra=task.checkpoint_files())
        plot_training_curves(log_path, os.path.join(run_dir, "curves.png"), cfg.name)

    def write_log(record):
        if chief:
            with open(log_path, "a") as f:
                f.write(json.dumps(record) + "\n")

    batches = task.batches(start_step, local_batch, rank, num_workers)
    t_start = time.time()
    interval_start, interval_samples = time.time(), 0
    sums, net_keys = {}, set()      # net_keys: the parts of net's loss (the rest: auxiliary)
    samples_per_s = 0.0
    bar = tqdm(total=cfg.steps, initial=min(start_step, cfg.steps), unit="step", desc=cfg.name,
               disable=not (cfg.progress and chief), dynamic_ncols=True)
    step = start_step
    try:
        while step < cfg.steps:
            batch = next(batches)
            trainer.set_learning_rate(schedule(step))
            with autograd.record():
                results = task.losses(batch, net, ctx)
            if task.trains_net(step):
                autograd.backward([total for total, _ in results])
                if distributed and step == start_step:
                    settle_initial_weights(trainer)
                trainer.step(cfg.batch_size)
            net_keys.update(key for _, part in results for key in part)
            for part in [p for _, p in results] + [task.auxiliary_step(step, cfg.batch_size)]:
                for key, value in part.items():
                    sums[key] = sums.get(key, 0) + value.sum().as_in_context(mx.cpu())
            step += 1
            interval_samples += local_batch
            bar.update(1)

            if step % cfg.log_every == 0 or step == cfg.steps:
                mx.nd.waitall()
                now = time.time()
                samples_per_s = interval_samples * num_workers / max(now - interval_start, 1e-9)
                record = {"step": step, "lr": trainer.learning_rate,
                          "samples_per_s": round(samples_per_s, 3)}
                for key, value in sums.items():
                    record[key] = float(value.asscalar()) / interval_samples
                record["loss"] = sum(record[k] for k in sums if k in net_keys)
                if not np.isfinite(record["loss"]):
                    raise GluonSRError(f"loss became {record['loss']} by step {step}; "
                                       "lower --lr (the last checkpoint is intact)")
                write_log(record)
                bar.set_postfix(loss=f"{record['loss']:.4g}", sps=f"{samples_per_s:.1f}")
                sums, interval_samples, interval_start = {}, 0, time.time()
            if chief and (step % cfg.val_every == 0 or step == cfg.steps):
                record = task.validate(net, step, ctx[0])
                if record:
                    bar.write(record.pop("message"))
                    write_log(record)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                write_checkpoint(step)
    finally:
        bar.close()

    wall = elapsed_before + time.time() - t_start
    if distributed:
        log.info(f"worker {rank} of {num_workers}: final parameter checksum "
                 f"{parameter_checksum(net)}", every_rank=True)
    if not chief:
        return None
    if step == start_step:
        log.info(f"{cfg.name}: the checkpoint is at step {step} of {cfg.steps}; writing the model")
        task.validate(net, step, ctx[0])    # the sidecar's held-out numbers, not logged again
    meta = task.meta()
    meta["training"] = {**cfg.record(), "command": command, **meta.get("training", {}),
                        "steps_done": step, "wall_time_s": round(wall, 1),
                        "samples_per_s": round(samples_per_s, 3),
                        "devices": [str(c) for c in ctx], "workers": num_workers}
    if cfg.init:
        meta["training"]["earlier_stages"] = earlier_stages(cfg.init, cfg.out_dir)
    if cfg.inference:
        meta["inference"] = {**meta.get("inference", {}), **cfg.inference}
    final = task.final_net(net)
    json_path = save_model(final, cfg.out_dir, cfg.name, meta)
    final(task.example_input(ctx[0]))           # a hybridized net exports after a pass
    export_gluon(final, os.path.join(run_dir, "export", cfg.name))
    log.info(f"saved {json_path} ({step} steps, {wall / 60:.1f} min)")
    return json_path


def _find_model(name_or_path, out_dir):
    """An --init model: the output folder of this recipe first (an earlier stage), then the
    usual places (params/, trained/, a path)."""
    local = os.path.join(out_dir, name_or_path + ".json")
    return local if os.sep not in name_or_path and os.path.isfile(local) else name_or_path


def earlier_stages(init, out_dir):
    """The training stages behind an --init model, oldest first: what reproducing it takes."""
    with open(resolve(_find_model(init, out_dir))[0]) as f:
        training = json.load(f).get("training", {})
    stage = {k: training[k] for k in ("command", "steps_done", "wall_time_s", "samples_per_s")
             if k in training}
    return training.get("earlier_stages", []) + [stage]


def _load_initial_weights(net, name_or_path, out_dir, ctx):
    """Load a trained model's weights into `net`. Architectures must match, or `net` is a
    narrower form of the model's that can take its strongest channels (`narrowed_from`)."""
    found = _find_model(name_or_path, out_dir)
    source, _ = load_model(found)
    if model_spec(source) == model_spec(net):
        net.load_parameters(resolve(found)[1], ctx=ctx)
        return
    mismatch = GluonSRError(f"--init {name_or_path}: its architecture {model_spec(source)} "
                            f"differs from the one being trained {model_spec(net)}")
    if type(source) is not type(net) or not hasattr(net, "narrowed_from"):
        raise mismatch
    try:
        net.narrowed_from(source)
    except ValueError:
        raise mismatch


def _spec_of(state):
    try:
        return canonical_spec(state["spec"])
    except (KeyError, TypeError, ValueError):
        return state.get("spec")


def _truncate_log(log_path, step):
    """Drop log records past `step` (written after the checkpoint we resume from), and a last
    line torn by a kill in mid-write; rewritten atomically."""
    if not os.path.exists(log_path):
        return
    keep = [json.dumps(record) + "\n" for record in read_log(log_path)
            if record.get("step", 0) <= step]
    with atomic_path(log_path, ".jsonl") as tmp:
        with open(tmp, "w") as f:
            f.writelines(keep)
