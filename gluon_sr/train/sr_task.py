"""The super-resolution task: shards of LR/HR crops, an SR network, pixel + feature + TV loss.

SR loss = w_feat * sum of l_feat over the VGG taps + w_pix * l_pixel + w_tv * l_TV, each per
sample. Validation: Y-PSNR against bicubic on held-out photos degraded like the shards.
"""
import fnmatch
import logging
import os
from dataclasses import dataclass

import numpy as np

from gluon_sr.archs import get_model
from gluon_sr.data.degrade import downscale, jpeg_roundtrip, mod_crop, shrink
from gluon_sr.data.shard_dataset import ShardDataset, epoch_batches
from gluon_sr.data.shards import manifest_hash
from gluon_sr.evaluation.metrics import psnr_y
from gluon_sr.infer.loader import InferenceModel
from gluon_sr.infer.tiling import run_network
from gluon_sr.losses import feature_loss, periodic_loss, pixel_loss, tv_loss
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.imageio import list_images, read_image, to_uint8
from gluon_sr.utils.imresize import imresize
from gluon_sr.train.task import TaskDefaults

logger = logging.getLogger(__name__)


@dataclass
class SROptions:
    shards: str = ""
    scale: int = 0                      # 0 = take it from the shards
    feat_weight: float = 0.0
    feat_layers: tuple = ("relu2_2",)   # per-layer losses are summed
    pixel_weight: float = 1.0
    pixel_kind: str = "l1"
    tv_weight: float = 0.0
    tv_kind: str = "l1"
    grid_weight: float = 0.0            # losses.periodic_loss at the scale's period
    augment: bool = True
    use_shard_features: bool = True     # use VGG targets stored in the shards when present
    vgg: str = ""
    val_dir: str = ""
    val_images: int = 10
    val_include: str = ""               # glob on the file names in val_dir

    def validate(self):
        if not self.shards:
            raise GluonSRError("--shards is required (build them with data_prep/build.py)")
        if min(self.feat_weight, self.pixel_weight, self.tv_weight, self.grid_weight) < 0:
            raise GluonSRError("loss weights must be >= 0")
        if self.feat_weight == 0 and self.pixel_weight == 0:
            raise GluonSRError("both --feat-weight and --pixel-weight are 0: nothing to learn")
        if self.pixel_kind not in ("l1", "l2") or self.tv_kind not in ("l1", "l2"):
            raise GluonSRError("--pixel-loss and --tv-loss must be l1 or l2")
        if not self.feat_layers:
            raise GluonSRError("--feat-layer needs at least one VGG layer")


class SRLoss:
    """Weighted perceptual + pixel + TV loss; returns per-sample totals and their parts."""

    def __init__(self, options, vgg, scale):
        self.options, self.vgg, self.scale = options, vgg, scale

    def target_features(self, y):
        return self.vgg(y) if self.options.feat_weight > 0 else None

    def __call__(self, out, y, target_feat):
        from mxnet import nd

        o = self.options
        parts = {}
        if o.feat_weight > 0:
            feats = self.vgg(out)
            parts["feat"] = o.feat_weight * sum(feature_loss(nd, feats[t], target_feat[t])
                                                for t in o.feat_layers)
        if o.pixel_weight > 0:
            parts["pix"] = o.pixel_weight * pixel_loss(nd, out, y, o.pixel_kind)
        if o.tv_weight > 0:
            parts["tv"] = o.tv_weight * tv_loss(nd, out, o.tv_kind)
        if o.grid_weight > 0:
            parts["grid"] = o.grid_weight * periodic_loss(nd, out, y, self.scale)
        return sum(parts.values()), parts


class SRValidator:
    """Prepares LR/HR pairs once (with the training recipe's degradation) and scores a net.

    `include`: a glob on the file names in `folder` (e.g. the held-out images of a folder the
    shards were built from with --exclude). A JPEG band is applied at its middle quality."""

    def __init__(self, folder, recipe, max_images=10, max_side=256, include=""):
        paths = [p for p in list_images([folder])
                 if not include or fnmatch.fnmatch(os.path.relpath(p, folder), include)]
        paths = paths[:max_images]
        if not paths:
            raise GluonSRError(f"{folder}: no validation images found")
        self.scale = scale = recipe["scale"]
        jpeg = recipe.get("jpeg_quality")
        self.pairs = []
        for path in paths:
            hr = shrink(to_uint8(read_image(path).rgb), recipe.get("hr_scale", 1.0))
            h, w = hr.shape[:2]
            # A centre crop keeps validation cheap on a CPU.
            ch, cw = min(h, max_side), min(w, max_side)
            top, left = (h - ch) // 2, (w - cw) // 2
            hr = mod_crop(hr[top:top + ch, left:left + cw], scale)
            lr = downscale(hr, scale, recipe["blur_sigma"], recipe["resize"])
            if jpeg:
                lr = jpeg_roundtrip(lr, (jpeg[0] + jpeg[1]) // 2)
            self.pairs.append((lr.astype(np.float32) / 255.0, hr.astype(np.float32) / 255.0))
        self.bicubic_psnr = float(np.mean([
            psnr_y(np.clip(imresize(lr.astype(np.float64), scale), 0, 1), hr, scale)
            for lr, hr in self.pairs]))

    def outputs(self, net, ctx):
        """The net's output for every LR image, floats in 0..1."""
        model = InferenceModel.from_gluon(net, ctx=ctx)
        return [run_network(model, lr, tile=0) for lr, _ in self.pairs]

    def psnr(self, outputs):
        return float(np.mean([psnr_y(out, hr, self.scale)
                              for out, (_, hr) in zip(outputs, self.pairs)]))


class SRTask(TaskDefaults):
    """Super-resolution on build.py shards (the interface is written down in task.py)."""

    Options = SROptions
    # The shipped sr_x2 / sr_x4 recipe (stage 1): EDSR-style net, L1 loss, Adam with warm-up.
    recipe = {"arch": "edsr", "model_config": {"channels": 64, "num_blocks": 16},
              "steps": 4500, "batch_size": 16, "lr": 4e-4, "warmup": 300, "lr_final": 0.02,
              "checkpoint_every": 250, "log_every": 50}

    def __init__(self, cfg, ctx):
        from gluon_sr.archs.vgg import load_loss_vgg

        o = self.options = cfg.options
        o.validate()
        self.dataset = dataset = ShardDataset(
            o.shards, augment=o.augment, use_features=o.use_shard_features and o.feat_weight > 0,
            seed=cfg.seed)
        recipe = self.shard_recipe = dataset.recipe
        self.scale = scale = recipe["scale"]
        self.seed = cfg.seed
        if o.scale and o.scale != scale:
            raise GluonSRError(f"--scale {o.scale} but the shards in {o.shards} are x{scale}")
        if len(dataset) < cfg.batch_size:
            raise GluonSRError(f"batch size {cfg.batch_size} is larger than the {len(dataset)} "
                               f"samples in {o.shards}")
        if dataset.use_features and (recipe["vgg_layer"],) != tuple(o.feat_layers):
            logger.info(f"note: shards hold {recipe['vgg_layer']} targets but --feat-layer is "
                        f"{' '.join(o.feat_layers)}; computing targets on the fly")
            dataset.use_features = False
            dataset.augment = o.augment
        try:
            self.net = get_model(cfg.arch, scale=scale, **cfg.model_config)
        except (TypeError, ValueError) as e:
            raise GluonSRError(f"model: {e}")
        self.vgg, self.vgg_source = None, None
        if o.feat_weight > 0:
            self.vgg, self.vgg_source = load_loss_vgg(tuple(o.feat_layers), weights=o.vgg or None,
                                                      ctx=ctx)
            self.vgg.hybridize(static_alloc=True, static_shape=True)
            if dataset.use_features and recipe.get("vgg_convention") != self.vgg_source["convention"]:
                raise GluonSRError("the shards' VGG targets were made with the "
                                   f"{recipe.get('vgg_convention')} VGG weights, training uses "
                                   f"{self.vgg_source['convention']}; rebuild shards or pass "
                                   "--no-shard-features")
        self.loss_fn = SRLoss(o, self.vgg, scale)
        self.data_hash = manifest_hash(o.shards)
        self.validator = None
        if o.val_dir:
            self.validator = SRValidator(o.val_dir, recipe, max_images=o.val_images,
                                         include=o.val_include)
        self.last_val = None

    def batches(self, start_step, batch_size, part=0, num_parts=1):
        return epoch_batches(self.dataset, batch_size, self.seed, start_step, part, num_parts)

    def losses(self, batch, net, ctx):
        from mxnet import autograd, gluon

        def load(array):
            return gluon.utils.split_and_load(array, ctx, even_split=False)

        xs = [x.astype("float32") / 255.0 for x in load(batch[0])]
        ys = [y.astype("float32") / 255.0 for y in load(batch[1])]
        if self.dataset.use_features:
            layer = self.shard_recipe["vgg_layer"]
            targets = [{layer: t} for t in load(batch[2])]
        else:
            with autograd.pause():
                targets = [self.loss_fn.target_features(y) for y in ys]
        return [self.loss_fn(net(x), y, t) for x, y, t in zip(xs, ys, targets)]

    def validate(self, net, step, ctx):
        if not self.validator:
            return None
        return self._psnr_record(step, self.validator.outputs(net, ctx))

    def _psnr_record(self, step, outputs):
        self.last_val = self.validator.psnr(outputs)
        return {"step": step, "val_psnr": self.last_val,
                "bicubic_psnr": self.validator.bicubic_psnr,
                "message": f"step {step}: val Y-PSNR {self.last_val:.3f} dB "
                           f"(bicubic {self.validator.bicubic_psnr:.3f})"}

    def meta(self):
        v = self.validator
        return {
            "task": "sr", "scale": self.scale, "vgg": self.vgg_source,
            "training": {"shard_recipe": self.shard_recipe,
                         "shard_sources": self.dataset.manifest.get("sources"),
                         "shard_exclude": self.dataset.manifest.get("exclude", []),
                         "shard_manifest_sha256": self.data_hash,
                         "num_samples": len(self.dataset)},
            "metrics": ({"val_dir": self.options.val_dir, "val_images": len(v.pairs),
                         "val_psnr_y": self.last_val, "bicubic_psnr_y": v.bicubic_psnr}
                        if v else {}),
        }
