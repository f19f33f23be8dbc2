"""The style-transfer task: a TransformNet (Johnson et al.) trained for one painting.

Content images come from folders (resized so the shorter side is `load_size`, by default
`image_size`; random `image_size` square crops, flips) or from build.py shards (their HR
crops). Loss = content weight x feature loss at the content layer + style weight x Gram losses
at the style layers + TV (losses.py).
Validation scores held-out content images and writes a preview (content | stylised) PNG.
Without --style-weight the weight comes from a rule (balanced_style_weight), not a guess.
"""
import hashlib
import logging
import os
from dataclasses import dataclass

import numpy as np

from gluon_sr.archs import get_model
from gluon_sr.data.content import ContentFolderDataset, HRCrops, centre_crops, read_painting
from gluon_sr.data.shard_dataset import ShardDataset, epoch_batches
from gluon_sr.data.shards import manifest_hash
from gluon_sr.losses import (CONTENT_LAYER, STYLE_BALANCE, STYLE_LAYERS, feature_loss,
                             gram_matrix, style_loss, tv_loss)
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.fileio import sha256_file
from gluon_sr.utils.imageio import write_image
from gluon_sr.train.task import TaskDefaults

logger = logging.getLogger(__name__)
FLAT_RANGE = 2 / 255    # an output spanning less than this in every channel is one colour
BALANCE_PHOTOS = 64     # training crops the style-weight rule is measured on (16: +-15%)


@dataclass
class StyleOptions:
    style_image: str = ""
    content: tuple = ()                 # folders of content photos (or shards)
    shards: str = ""
    image_size: int = 128               # content crop side
    load_size: int = 0                  # photos' shorter side before the crop (0 = image_size)
    style_size: int = 256               # the style image's shorter side (0 = as it is)
    feat_weight: float = 1.0            # content weight
    content_layer: str = CONTENT_LAYER
    style_weight: float = None          # None = balanced_style_weight's rule
    style_balance: float = STYLE_BALANCE  # the rule's target ratio of the two terms
    style_layers: tuple = STYLE_LAYERS
    tv_weight: float = 0.0
    tv_kind: str = "l1"
    augment: bool = True
    vgg: str = ""
    val_dir: str = ""
    val_images: int = 10

    def validate(self):
        if not self.style_image:
            raise GluonSRError("--task style needs --style-image")
        if not self.content and not self.shards:
            raise GluonSRError("--task style needs --content DIR (or --shards)")
        if min(self.feat_weight, self.style_weight or 0, self.tv_weight) < 0:
            raise GluonSRError("loss weights must be >= 0")
        if self.style_balance <= 0:
            raise GluonSRError("--style-balance must be > 0")
        if self.tv_kind not in ("l1", "l2"):
            raise GluonSRError("--tv-loss must be l1 or l2")
        if self.image_size < 16 or self.style_size < 0:
            raise GluonSRError("--image-size must be >= 16 and --style-size >= 0")
        if self.load_size and self.load_size < self.image_size:
            raise GluonSRError("--load-size must be at least --image-size")
        if self.load_size and not self.content:
            raise GluonSRError("--load-size resizes --content photos; shards are cut already")


def balanced_style_weight(vgg, photos, style_grams, content_layer, style_layers,
                          balance=STYLE_BALANCE, chunk=16):
    """The style weight by the balance rule (losses.STYLE_BALANCE), and its numbers.

    photos: plain training crops, NCHW floats in 0..1 (run through the VGG `chunk` at a
    time). The content feature energy (mean square of the content layer: the content loss of
    losing the photo entirely) and the Gram loss of the photos against the painting scale alike
    with the VGG's input convention: the energy as its square, the Gram loss as its fourth
    power, like the content and style terms of the training loss, so the rule holds for either
    convention.
    """
    from mxnet import nd

    energy = style = 0.0
    for start in range(0, photos.shape[0], chunk):
        feats = vgg(photos[start:start + chunk])
        energy += float(nd.sum(nd.mean(nd.square(feats[content_layer]), axis=(1, 2, 3)))
                        .asscalar())
        style += float(nd.sum(sum(style_loss(nd, feats[t], g)
                                  for t, g in zip(style_layers, style_grams))).asscalar())
    energy, style = energy / photos.shape[0], style / photos.shape[0]
    return balance * energy / style, {"content_energy": energy, "photo_style_loss": style,
                                      "balance": balance}


class StyleLoss:
    def __init__(self, options, vgg):
        self.options, self.vgg = options, vgg

    def __call__(self, out, content_target, grams):
        from mxnet import nd

        o = self.options
        feats = self.vgg(out)
        parts = {
            "content": o.feat_weight * feature_loss(nd, feats[o.content_layer], content_target),
            "style": o.style_weight * sum(style_loss(nd, feats[t], g)
                                          for t, g in zip(o.style_layers, grams)),
        }
        if o.tv_weight > 0:
            parts["tv"] = o.tv_weight * tv_loss(nd, out, o.tv_kind)
        return sum(parts.values()), parts


class StyleTask(TaskDefaults):
    """Style transfer for one painting (the interface is written down in task.py)."""

    Options = StyleOptions
    # The recommended recipe; instance norm in the encoder only (docs/style_blobs.md).
    # A warm-up, because a run of it without one (the_scream) saturated to one flat colour by
    # step 40.
    recipe = {"arch": "transform_net", "model_config": {"norm_stages": ["encoder"]},
              "steps": 800, "batch_size": 4, "lr": 1e-3, "lr_final": 0.1, "warmup": 50,
              "val_every": 100, "checkpoint_every": 100}

    def __init__(self, cfg, ctx):
        import mxnet as mx

        from gluon_sr.archs.vgg import load_loss_vgg

        o = self.options = cfg.options
        o.validate()
        self.seed, self.run_dir = cfg.seed, cfg.run_path()
        if o.content:
            self.dataset = ContentFolderDataset(o.content, o.load_size or o.image_size,
                                                cfg.seed, crop=o.image_size)
            fingerprint = self.dataset.fingerprint()
        else:
            self.dataset = HRCrops(ShardDataset(o.shards, augment=o.augment, seed=cfg.seed))
            fingerprint = manifest_hash(o.shards)
        if len(self.dataset) < cfg.batch_size:
            raise GluonSRError(f"batch size {cfg.batch_size} is larger than the "
                               f"{len(self.dataset)} content images")
        self.data_hash = hashlib.sha256(
            (fingerprint + sha256_file(o.style_image)).encode()).hexdigest()
        try:
            self.net = get_model(cfg.arch, **cfg.model_config)
        except (TypeError, ValueError) as e:
            raise GluonSRError(f"model: {e}")
        self.vgg, self.vgg_source = load_loss_vgg((*o.style_layers, o.content_layer),
                                                  weights=o.vgg or None, ctx=ctx)
        self.vgg.hybridize(static_alloc=True)
        # The content target needs the net only up to the content layer.
        self.content_vgg, _ = load_loss_vgg((o.content_layer,), weights=o.vgg or None, ctx=ctx)
        self.content_vgg.hybridize(static_alloc=True)
        style = read_painting(o.style_image, o.style_size)
        self.style_grams = {}
        for c in ctx:
            feats = self.vgg(mx.nd.array(style.transpose(2, 0, 1)[None], ctx=c))
            self.style_grams[c] = [gram_matrix(mx.nd, feats[t]) for t in o.style_layers]
        self.style_weight_rule = None
        if o.style_weight is None:
            o.style_weight, self.style_weight_rule = self._balanced_style_weight(ctx[0])
            logger.info(f"style weight {o.style_weight:.3g} (the balance rule; --style-weight "
                        f"to set it)")
        self.loss_fn = StyleLoss(o, self.vgg)
        self.val_images = (centre_crops(o.val_dir, o.image_size, o.val_images, o.load_size)
                           if o.val_dir else [])
        self.last_val = None

    def _balanced_style_weight(self, ctx):
        import mxnet as mx

        # Evenly spaced crops of epoch 0: the same for a resumed run.
        picks = np.linspace(0, len(self.dataset) - 1, min(BALANCE_PHOTOS, len(self.dataset)))
        photos = np.stack([np.asarray(self.dataset[int(round(i))]) for i in picks])
        return balanced_style_weight(self.vgg, mx.nd.array(photos, ctx=ctx) / 255.0,
                                     self.style_grams[ctx], self.options.content_layer,
                                     self.options.style_layers, self.options.style_balance)

    def batches(self, start_step, batch_size, part=0, num_parts=1):
        return epoch_batches(self.dataset, batch_size, self.seed, start_step, part, num_parts)

    def _content_target(self, x):
        return self.content_vgg(x)[self.options.content_layer]

    def losses(self, batch, net, ctx):
        from mxnet import autograd, gluon

        images = batch[0] if isinstance(batch, (list, tuple)) else batch
        xs = [x.astype("float32") / 255.0
              for x in gluon.utils.split_and_load(images, ctx, even_split=False)]
        results = []
        for x in xs:
            with autograd.pause():
                target = self._content_target(x)
            results.append(self.loss_fn(net(x), target, self.style_grams[x.context]))
        return results

    def validate(self, net, step, ctx):
        import mxnet as mx

        if not self.val_images:
            return None
        sums = {}
        rows = []
        for img in self.val_images:
            x = mx.nd.array(img.transpose(2, 0, 1)[None], ctx=ctx)
            out = net(x)
            _, parts = self.loss_fn(out, self._content_target(x), self.style_grams[ctx])
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + float(value.asscalar()) / len(self.val_images)
            rows.append(np.concatenate([img, out[0].asnumpy().transpose(1, 2, 0)], axis=1))
        preview = os.path.join(self.run_dir, f"preview_{step:07d}.png")
        write_image(preview, np.concatenate(rows[:4], axis=0))
        # A network whose output tanh saturates everywhere paints one flat colour and gets no
        # gradient back: it never recovers, so stop instead of training it to the end.
        if all(np.ptp(row[:, img.shape[1]:], axis=(0, 1)).max() < FLAT_RANGE for row in rows):
            raise GluonSRError(
                f"step {step}: the network paints one flat colour on every held-out photo "
                f"({preview}); it has collapsed and will not recover. Train again with a "
                f"warm-up (--warmup 50) or a lower --lr")
        self.last_val = sums
        return {"step": step, **{f"val_{k}": v for k, v in sums.items()},
                "message": f"step {step}: held-out content {sums['content']:.4g}, "
                           f"style {sums['style']:.4g}; preview {preview}"}

    def meta(self):
        o = self.options
        return {"task": "style", "vgg": self.vgg_source,
                "style": {"image": os.path.basename(o.style_image),
                          "style_image_sha256": sha256_file(o.style_image),
                          "style_size": o.style_size, "style_layers": list(o.style_layers),
                          "content_layer": o.content_layer},
                "training": {"num_content_images": len(self.dataset),
                             **({"style_weight_rule": self.style_weight_rule}
                                if self.style_weight_rule else {})},
                "metrics": ({"val_dir": o.val_dir, "val_images": len(self.val_images),
                             **{f"val_{k}_loss": v for k, v in self.last_val.items()}}
                            if self.last_val else {})}
