"""Training: a task-independent loop (`run_training`) and the super-resolution task.

SR loss = w_feat * sum of l_feat over the VGG taps + w_pix * l_pixel + w_tv * l_TV, averaged over the global
batch (the style task is in style_training.py). Batches are split over devices with
`split_and_load`; the Trainer reduces gradients through a kvstore. Atomic checkpoints allow
`--resume` at the exact step with the same data order. The result is `params/NAME.params`
plus its JSON sidecar.
"""
import json
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .archs import get_model, model_spec
from . import checkpoint as ckpt
from .dataset import ShardDataset, ShardGroupedSampler
from .errors import GluonSRError
from .gatys import STYLE_WEIGHT
from .losses import feature_loss, pixel_loss, tv_loss
from .model_store import PARAMS_DIR, export_model, save_model
from .plotting import plot_training_curves
from .runtime import parse_contexts
from .shards import manifest_hash


@dataclass
class TrainConfig:
    shards: str
    name: str
    task: str = "sr"                    # sr | style
    arch: str = "srresnet_seed"
    model_config: dict = field(default_factory=dict)
    scale: int = 0                      # 0 = take it from the shards
    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-3
    lr_mode: str = "cosine"             # any gluoncv LRScheduler mode
    lr_final: float = 0.01              # final lr as a fraction of lr
    warmup: int = 0
    feat_weight: float = 1.0
    feat_layers: tuple = ("relu2_2",)  # SR: summed per-layer losses; style: the content layer
    pixel_weight: float = 0.0
    pixel_kind: str = "l2"
    tv_weight: float = 0.0
    tv_kind: str = "l1"
    augment: bool = True
    use_shard_features: bool = True     # use VGG targets stored in the shards when present
    seed: int = 0
    gpus: str = ""
    ctx: str = ""
    kvstore: str = "device"
    vgg: str = ""
    val_dir: str = ""
    val_every: int = 500
    val_images: int = 10
    checkpoint_every: int = 200
    log_every: int = 20
    run_dir: str = ""
    out_dir: str = PARAMS_DIR
    resume: bool = False
    init: str = ""                      # start from a trained model's weights (fine-tuning)
    progress: bool = True
    # style transfer (task "style"): feat_weight / feat_layers (one layer) are the content loss
    style_image: str = ""
    content: list = field(default_factory=list)
    image_size: int = 256
    style_size: int = 0                 # 0 = the style image as it is
    style_weight: float = STYLE_WEIGHT
    style_layers: tuple = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")

    def run_path(self):
        return self.run_dir or os.path.join("runs", self.name)

    def validate(self):
        if self.steps < 1 or self.batch_size < 1:
            raise GluonSRError("--steps and --batch-size must be >= 1")
        if self.lr <= 0:
            raise GluonSRError("--lr must be > 0")
        if self.feat_weight < 0 or self.pixel_weight < 0 or self.tv_weight < 0:
            raise GluonSRError("loss weights must be >= 0")
        if self.task not in ("sr", "style"):
            raise GluonSRError(f"--task must be sr or style, got {self.task!r}")
        if self.task == "sr" and not self.shards:
            raise GluonSRError("--shards is required (build them with data_prep/build.py)")
        if self.task == "sr" and self.feat_weight == 0 and self.pixel_weight == 0:
            raise GluonSRError("both --feat-weight and --pixel-weight are 0: nothing to learn")
        if self.pixel_kind not in ("l1", "l2") or self.tv_kind not in ("l1", "l2"):
            raise GluonSRError("--pixel-loss and --tv-loss must be l1 or l2")
        if not self.feat_layers or (self.task == "style" and len(self.feat_layers) != 1):
            raise GluonSRError("--feat-layer: give one VGG layer for style transfer, "
                               "one or more for SR")
        if not self.name or os.sep in self.name:
            raise GluonSRError(f"--name must be a plain file name, got {self.name!r}")


def make_schedule(cfg):
    from gluoncv.utils import LRScheduler, LRSequential

    parts = []
    if cfg.warmup > 0:
        parts.append(LRScheduler("linear", base_lr=cfg.lr * 1e-3, target_lr=cfg.lr,
                                 niters=cfg.warmup))
    parts.append(LRScheduler(cfg.lr_mode, base_lr=cfg.lr, target_lr=cfg.lr * cfg.lr_final,
                             niters=max(2, cfg.steps - cfg.warmup),
                             step_iter=[int(cfg.steps * 0.5), int(cfg.steps * 0.75)]))
    return LRSequential(parts)


class SRLoss:
    """Weighted perceptual + pixel + TV loss; returns per-sample totals and their parts."""

    def __init__(self, cfg, vgg):
        self.cfg, self.vgg = cfg, vgg

    def target_features(self, y):
        return self.vgg(y) if self.cfg.feat_weight > 0 else None

    def __call__(self, out, y, target_feat):
        from mxnet import nd

        cfg = self.cfg
        parts = {}
        if cfg.feat_weight > 0:
            parts["feat"] = cfg.feat_weight * sum(
                feature_loss(nd, p, t) for p, t in zip(_as_tuple(self.vgg(out)),
                                                       _as_tuple(target_feat)))
        if cfg.pixel_weight > 0:
            parts["pix"] = cfg.pixel_weight * pixel_loss(nd, out, y, cfg.pixel_kind)
        if cfg.tv_weight > 0:
            parts["tv"] = cfg.tv_weight * tv_loss(nd, out, cfg.tv_kind)
        return sum(parts.values()), parts


def _as_tuple(features):
    """LossVGG16 returns a bare array for one tap, a tuple for several."""
    return features if isinstance(features, (tuple, list)) else (features,)


def epoch_batches(dataset, batch_size, seed, start_step, part=0, num_parts=1):
    """Endless batches from `start_step` on, epoch by epoch, deterministic for the seed.

    part / num_parts: this worker's disjoint share of the data in a distributed run.
    """
    from mxnet import gluon

    def sampler(epoch, skip):
        return ShardGroupedSampler(dataset, batch_size, seed=seed, epoch=epoch, skip=skip,
                                   part=part, num_parts=num_parts)

    per_epoch = len(sampler(0, 0))
    if per_epoch == 0:
        raise GluonSRError(f"worker {part} of {num_parts}: its share of the data holds less "
                           f"than one batch of {batch_size}")
    epoch, skip = divmod(start_step, per_epoch)
    while True:
        dataset.epoch = epoch
        yield from gluon.data.DataLoader(dataset, batch_sampler=sampler(epoch, skip),
                                         num_workers=0)
        epoch, skip = epoch + 1, 0


class SRTask:
    """What is specific to super-resolution: data, network, loss, validation, metadata.

    The training loop (`run_training`) asks a task for: `net`,
    `batches(start_step, batch_size, part, num_parts)` (this worker's batches),
    `losses(batch, net, ctx)` (per-device (total, parts) pairs, called inside
    autograd.record), `validate(net, step)` (a log record or None), `spec_extra` and `meta()`.
    """

    task = "sr"

    def __init__(self, cfg, ctx, log=print):
        from .validation import SRValidator
        from .vgg import load_loss_vgg

        self.cfg = cfg
        self.dataset = dataset = ShardDataset(
            cfg.shards, augment=cfg.augment,
            use_features=cfg.use_shard_features and cfg.feat_weight > 0, seed=cfg.seed)
        recipe = self.recipe = dataset.recipe
        self.scale = scale = recipe["scale"]
        if cfg.scale and cfg.scale != scale:
            raise GluonSRError(f"--scale {cfg.scale} but the shards in {cfg.shards} are x{scale}")
        if len(dataset) < cfg.batch_size * len(ctx) or cfg.batch_size < len(ctx):
            raise GluonSRError(f"batch size {cfg.batch_size} does not fit {len(dataset)} "
                               f"samples on {len(ctx)} device(s)")
        if dataset.use_features and (recipe["vgg_layer"],) != tuple(cfg.feat_layers):
            log(f"note: shards hold {recipe['vgg_layer']} targets but --feat-layer is "
                f"{' '.join(cfg.feat_layers)}; computing targets on the fly")
            dataset.use_features = False
            dataset.augment = cfg.augment
        try:
            self.net = get_model(cfg.arch, scale=scale, **cfg.model_config)
        except (TypeError, ValueError) as e:
            raise GluonSRError(f"model: {e}")
        self.vgg, self.vgg_source = None, None
        if cfg.feat_weight > 0:
            self.vgg, self.vgg_source = load_loss_vgg(tuple(cfg.feat_layers),
                                                      weights=cfg.vgg or None, ctx=ctx)
            self.vgg.hybridize(static_alloc=True, static_shape=True)
            if dataset.use_features and recipe.get("vgg_convention") != self.vgg_source["convention"]:
                raise GluonSRError("the shards' VGG targets were made with the "
                                   f"{recipe.get('vgg_convention')} VGG weights, training uses "
                                   f"{self.vgg_source['convention']}; rebuild shards or pass "
                                   "--no-shard-features")
        self.loss_fn = SRLoss(cfg, self.vgg)
        self.data_hash = manifest_hash(cfg.shards)
        self.validator = None
        if cfg.val_dir:
            self.validator = SRValidator(cfg.val_dir, scale, recipe["blur_sigma"],
                                         recipe["resize"], max_images=cfg.val_images)
        self.last_val = None

    def batches(self, start_step, batch_size, part=0, num_parts=1):
        return epoch_batches(self.dataset, batch_size, self.cfg.seed, start_step, part, num_parts)

    def losses(self, batch, net, ctx):
        from mxnet import autograd, gluon

        def load(array):
            return gluon.utils.split_and_load(array, ctx, even_split=False)

        xs = [x.astype("float32") / 255.0 for x in load(batch[0])]
        ys = [y.astype("float32") / 255.0 for y in load(batch[1])]
        if self.dataset.use_features:
            targets = load(batch[2])
        else:
            with autograd.pause():
                targets = [self.loss_fn.target_features(y) for y in ys]
        return [self.loss_fn(net(x), y, t) for x, y, t in zip(xs, ys, targets)]

    def validate(self, net, step, ctx):
        if not self.validator:
            return None
        self.last_val = self.validator.evaluate(net, ctx)
        return {"step": step, "val_psnr": self.last_val,
                "bicubic_psnr": self.validator.bicubic_psnr,
                "message": f"step {step}: val Y-PSNR {self.last_val:.3f} dB "
                           f"(bicubic {self.validator.bicubic_psnr:.3f})"}

    def meta(self):
        v = self.validator
        return {
            "task": "sr", "scale": self.scale, "vgg": self.vgg_source,
            "training": {"shard_recipe": self.recipe,
                         "shard_sources": self.dataset.manifest.get("sources"),
                         "shard_exclude": self.dataset.manifest.get("exclude", []),
                         "shard_manifest_sha256": self.data_hash,
                         "num_samples": len(self.dataset)},
            "metrics": ({"val_dir": self.cfg.val_dir, "val_images": len(v.pairs),
                         "val_psnr_y": self.last_val, "bicubic_psnr_y": v.bicubic_psnr}
                        if v else {}),
        }


def open_kvstore(kind):
    """(kvstore, rank, number of workers): a ps-lite kvstore joined now for dist_* kinds,
    else the kind's name, which the Trainer turns into a kvstore for this machine's devices."""
    if not kind.startswith("dist"):
        return kind, 0, 1
    if "DMLC_ROLE" not in os.environ:
        raise GluonSRError(f"--kvstore {kind} runs inside a ps-lite job; start it with "
                           "python -m gluon_sr.launch -n WORKERS -- python train.py ...")
    import mxnet as mx

    kv = mx.kv.create(kind)
    return kv, kv.rank, kv.num_workers


def train(cfg, command="", log=print):
    """Train an SR or style network as configured.

    Returns the path of the model JSON (None on the workers of a distributed run other than
    rank 0, which alone writes logs, checkpoints and the model).
    """
    cfg.validate()
    ctx = parse_contexts(cfg.gpus, cfg.ctx)
    kvstore, rank, num_workers = open_kvstore(cfg.kvstore)
    if cfg.batch_size % num_workers or cfg.batch_size // num_workers < len(ctx):
        raise GluonSRError(f"batch size {cfg.batch_size} does not split over {num_workers} "
                           f"worker(s) x {len(ctx)} device(s)")
    if rank:
        log = _quiet_log(rank, num_workers, log)
    if cfg.task == "style":
        from .style_training import StyleTask

        task = StyleTask(cfg, ctx, log)
    else:
        task = SRTask(cfg, ctx, log)
    return run_training(cfg, task, ctx, command, log, kvstore, rank, num_workers)


def _quiet_log(rank, num_workers, log):
    """Workers other than rank 0 report only what concerns them (rank 0 speaks for the job)."""
    def worker_log(message):
        if message.startswith(("warning", "error", "worker")):
            log(f"[rank {rank}/{num_workers}] {message}")
    return worker_log


def parameter_checksum(net):
    """sha256 over every parameter's bytes: equal on all workers of a healthy sync job."""
    import hashlib

    digest = hashlib.sha256()
    for name, p in sorted(net.collect_params().items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(p.data().asnumpy()).tobytes())
    return digest.hexdigest()


def _settle_initial_weights(trainer):
    """Distributed: take rank 0's weights from the kvstore and wait for them to arrive.

    Trainer.step would issue that pull and the first gradient push together; ps-lite can then
    serve a slow worker's pull after the servers have replaced the stored weights with the
    summed gradients (update_on_kvstore=False keeps one value per key), which leaves that
    worker training from a gradient (seen here in about one run in four). Needs materialised
    parameters: call after the first forward pass.
    """
    import mxnet as mx

    trainer._init_kvstore()
    trainer._init_params()
    mx.nd.waitall()


def run_training(cfg, task, ctx, command="", log=print, kvstore=None, rank=0, num_workers=1):
    """The task-independent loop: optimiser, schedule, resume, logs, checkpoints, final save.

    In a distributed run each worker trains on its share of every global batch (batch_size /
    num_workers samples); gradients are summed over workers and devices through the kvstore
    and every worker applies the same update, so parameters stay identical.
    """
    import mxnet as mx
    from mxnet import autograd, gluon
    from tqdm import tqdm

    mx.random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    kvstore = cfg.kvstore if kvstore is None else kvstore
    distributed = num_workers > 1 or not isinstance(kvstore, str)
    chief = rank == 0
    local_batch = cfg.batch_size // num_workers
    run_dir = cfg.run_path()
    if chief:
        os.makedirs(run_dir, exist_ok=True)
    net = task.net
    # Uniform(+-1/sqrt(fan_in)), PyTorch's default scale. He init (magnitude 2) doubles the
    # activation variance in every block of a norm-free residual body: a 16-block EDSR then
    # starts with outputs in the hundreds.
    net.initialize(mx.init.Xavier(rnd_type="uniform", factor_type="in", magnitude=1), ctx=ctx)
    if cfg.init and not cfg.resume:
        _load_initial_weights(net, cfg.init, ctx)
    net.hybridize(static_alloc=True, static_shape=True)

    # Distributed: servers only sum gradients and each worker runs Adam itself, so the lr
    # schedule (set here, step by step) reaches the optimiser; with the optimiser on the
    # servers it would keep its first learning rate.
    trainer = gluon.Trainer(net.collect_params(), "adam",
                            {"learning_rate": cfg.lr, "beta1": 0.9, "beta2": 0.999},
                            kvstore=kvstore, update_on_kvstore=False if distributed else None)
    schedule = make_schedule(cfg)
    spec = model_spec(net)

    start_step, elapsed_before = 0, 0.0
    log_path = os.path.join(run_dir, "log.jsonl")
    if cfg.resume:
        state = ckpt.read_latest(run_dir)
        if state is None:
            log(f"no checkpoint in {run_dir}; starting from scratch")
        else:
            if state.get("spec") != spec:
                raise GluonSRError(f"{run_dir}: checkpoint is of a different model "
                                   f"({state.get('spec')}); use another --name")
            ckpt.restore_checkpoint(run_dir, state, net, trainer, ctx)
            if state.get("data") != task.data_hash:
                log("warning: the training data changed since the checkpoint was written")
            start_step, elapsed_before = state["step"], state.get("elapsed_s", 0.0)
            log(f"resumed {cfg.name} at step {start_step}")
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
        ckpt.save_checkpoint(run_dir, step, net, trainer,
                             {"spec": spec, "data": task.data_hash,
                              "elapsed_s": elapsed_before + time.time() - t_start})
        plot_training_curves(log_path, os.path.join(run_dir, "curves.png"), cfg.name)

    def write_log(record):
        if chief:
            with open(log_path, "a") as f:
                f.write(json.dumps(record) + "\n")

    batches = task.batches(start_step, local_batch, rank, num_workers)
    t_start = time.time()
    interval_start, interval_samples = time.time(), 0
    sums = {}
    samples_per_s = 0.0
    bar = tqdm(total=cfg.steps, initial=start_step, unit="step", desc=cfg.name,
               disable=not (cfg.progress and chief), dynamic_ncols=True)
    step = start_step
    try:
        while step < cfg.steps:
            batch = next(batches)
            trainer.set_learning_rate(schedule(step))
            with autograd.record():
                results = task.losses(batch, net, ctx)
            autograd.backward([total for total, _ in results])
            if distributed and step == start_step:
                _settle_initial_weights(trainer)
            trainer.step(cfg.batch_size)
            for _, parts in results:
                for key, value in parts.items():
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
                record["loss"] = sum(record[k] for k in sums)
                if not np.isfinite(record["loss"]):
                    raise GluonSRError(f"loss became {record['loss']} at step {step}; "
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
        log(f"worker {rank} of {num_workers}: final parameter checksum {parameter_checksum(net)}")
    if not chief:
        return None
    meta = task.meta()
    options = {k: v for k, v in asdict(cfg).items()
               if k not in ("resume", "progress", "out_dir", "run_dir", "gpus", "ctx")}
    meta["training"] = {**options, "command": command, **meta.get("training", {}),
                        "steps_done": step, "wall_time_s": round(wall, 1),
                        "samples_per_s": round(samples_per_s, 3),
                        "devices": [str(c) for c in ctx], "workers": num_workers}
    if cfg.init:
        meta["training"]["earlier_stages"] = earlier_stages(cfg.init)
    json_path = save_model(net, cfg.out_dir, cfg.name, meta)
    export_model(net, os.path.join(run_dir, "export", cfg.name))
    log(f"saved {json_path} ({step} steps, {wall / 60:.1f} min)")
    return json_path


def earlier_stages(init):
    """The training stages behind an --init model, oldest first: what reproducing it takes."""
    from .model_store import resolve

    with open(resolve(init)[0]) as f:
        training = json.load(f).get("training", {})
    stage = {k: training[k] for k in ("command", "steps_done", "wall_time_s", "samples_per_s")
             if k in training}
    return training.get("earlier_stages", []) + [stage]


def _load_initial_weights(net, name_or_path, ctx):
    """Load a trained model's weights into `net`; architectures must match exactly."""
    from .model_store import load_model, resolve

    source, _ = load_model(name_or_path)
    if model_spec(source) != model_spec(net):
        raise GluonSRError(f"--init {name_or_path}: its architecture {model_spec(source)} "
                           f"differs from the one being trained {model_spec(net)}")
    net.load_parameters(resolve(name_or_path)[1], ctx=ctx)


def _truncate_log(log_path, step):
    """Drop log records past `step` (written after the checkpoint we resume from)."""
    if not os.path.exists(log_path):
        return
    with open(log_path) as f:
        keep = [line for line in f if line.strip() and json.loads(line).get("step", 0) <= step]
    with open(log_path, "w") as f:
        f.writelines(keep)
