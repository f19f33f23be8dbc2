"""The AdaIN task: one decoder for any style image (Huang & Belongie 2017; seed 003).

Every sample pairs a random crop of a content photo with a random crop of a painting. The
frozen VGG16 encoder (to relu4_1) encodes both; AdaIN moves the content features' per-channel
statistics to the painting's; the decoder (the net trained) turns them into an image; the loss
is that of gluon_sr.adain_losses (content and style on the encoder's features of that image;
optionally Gram and grid terms).

Optionally an identity term (SANet's, Park & Lee 2019): the photo's own relu4_1 features
decoded, against the photo (mean absolute pixel difference), which the paper's loss never asks
of the decoder; it is what `--alpha 0` shows. And optionally a teacher term (distillation):
the mean absolute difference to what a trained decoder, `teacher`, draws from the same
features; with `--init` of that decoder into a narrower one (its strongest channels), it makes
a faster decoder that draws like the trained one. With the perceptual terms off (content and
style weight 0) a step skips the encoder pass over the output, the costly part of a step.
"""
import hashlib
import os
from dataclasses import dataclass

import numpy as np

from gluon_sr.adain_losses import AdaINLoss
from gluon_sr.archs import get_model
from gluon_sr.archs.adain import ENCODER_TAPS, adain
from gluon_sr.data.content import ContentFolderDataset, PairedCrops, centre_crops
from gluon_sr.data.shard_dataset import epoch_batches
from gluon_sr.losses import STYLE_LAYERS
from gluon_sr.train.task import TaskDefaults
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.imageio import write_image


@dataclass
class AdaINOptions:
    content: tuple = ()                 # folders of content photos
    styles: str = ""                    # folder of training paintings
    load_size: int = 256                # shorter side photos and paintings are resized to
    image_size: int = 128               # square crop side
    feat_weight: float = 1.0            # content weight
    style_weight: float = 10.0          # the original's
    identity_weight: float = 0.0        # decode(encode(photo)) against the photo; 0 = off
    gram_weight: float = 0.0            # relative Gram distance at STYLE_LAYERS; 0 = off
    grid_weight: float = 0.0            # the output's period-8 detail means squared; 0 = off
    teacher: str = ""                   # a trained AdaIN decoder to distil (name or path)
    teacher_weight: float = 0.0         # mean |output - teacher's output|; 0 = off
    vgg: str = ""
    val_dir: str = ""                   # held-out photos (top level of the folder)
    val_style_dir: str = ""             # held-out paintings for the preview and val losses
    val_images: int = 4

    def validate(self):
        if not self.content or not self.styles:
            raise GluonSRError("--task adain needs --content DIR and --styles DIR")
        if min(self.feat_weight, self.style_weight, self.identity_weight, self.gram_weight,
               self.grid_weight, self.teacher_weight) < 0:
            raise GluonSRError("loss weights must be >= 0")
        if bool(self.teacher) != bool(self.teacher_weight):
            raise GluonSRError("--teacher MODEL and --teacher-weight W go together")
        if not any((self.feat_weight, self.style_weight, self.identity_weight,
                    self.gram_weight, self.grid_weight, self.teacher_weight)):
            raise GluonSRError("every loss weight is 0: nothing to train")
        if self.image_size < 32 or self.image_size % 8 or self.load_size < self.image_size:
            raise GluonSRError("--image-size must be a multiple of 8, >= 32 and at most "
                               "--load-size")


class AdaINTask(TaskDefaults):
    """Arbitrary style transfer (the interface is written down in task.py)."""

    Options = AdaINOptions
    recipe = {"arch": "adain_decoder", "steps": 4000, "batch_size": 8, "lr": 1e-4,
              "lr_final": 0.1, "val_every": 250, "checkpoint_every": 100, "log_every": 20}

    def __init__(self, cfg, ctx):
        from gluon_sr.archs.vgg import load_loss_vgg

        o = self.options = cfg.options
        o.validate()
        self.seed, self.run_dir = cfg.seed, cfg.run_path()
        photos = ContentFolderDataset(o.content, o.load_size, cfg.seed, crop=o.image_size)
        paintings = ContentFolderDataset([o.styles], o.load_size, cfg.seed + 1,
                                         crop=o.image_size)
        self.dataset = PairedCrops(photos, paintings, cfg.seed)
        if len(self.dataset) < cfg.batch_size:
            raise GluonSRError(f"batch size {cfg.batch_size} is larger than the "
                               f"{len(self.dataset)} content images")
        self.data_hash = hashlib.sha256(
            (photos.fingerprint() + paintings.fingerprint()).encode()).hexdigest()
        self.style_files = paintings.files
        try:
            self.net = get_model(cfg.arch, **cfg.model_config)
        except (TypeError, ValueError) as e:
            raise GluonSRError(f"model: {e}")
        taps = (*ENCODER_TAPS, *STYLE_LAYERS) if o.gram_weight else ENCODER_TAPS
        self.encoder, self.vgg_source = load_loss_vgg(taps, weights=o.vgg or None, ctx=ctx)
        self.encoder.hybridize(static_alloc=True)
        self.scales = self._tap_scales(photos, paintings, ctx[0])
        self.loss_fn = AdaINLoss(o, self.encoder, self.scales)
        self.perceptual = bool(o.feat_weight or o.style_weight or o.gram_weight)
        self.teacher = self._teacher(o.teacher, ctx) if o.teacher else None
        self._scale_set = False
        self.val_photos = centre_crops(o.val_dir, o.image_size, o.val_images) if o.val_dir else []
        self.val_paintings = (centre_crops(o.val_style_dir, o.image_size, o.val_images)
                              if o.val_style_dir else [])
        self.last_val = None

    def _tap_scales(self, photos, paintings, ctx, count=32):
        """1 / each tap's mean activation over `count` photo and painting crops, as a
        per-channel array of that one value. Gatys et al. normalise each channel by its own
        mean; measured here, that lets a channel which is near zero on the calibration crops
        (its scale up to 1000x the others') but fires on the decoder's early outputs take 98% of
        relu2_1's style loss, and the decoder learns nothing else (docs/adain.md)."""
        import mxnet as mx

        batch = np.stack([photos[i] for i in range(min(count, len(photos)))] +
                         [paintings[i] for i in range(min(count, len(paintings)))])
        feats = self.encoder(mx.nd.array(batch, ctx=ctx).astype("float32") / 255.0)
        scales = {}
        for tap in ENCODER_TAPS:
            channels = feats[tap].shape[1]
            mean = float(feats[tap].mean().asscalar())
            scales[tap] = mx.nd.full((1, channels, 1, 1), 1.0 / mean, ctx=ctx)
        return scales

    @staticmethod
    def _teacher(name, ctx):
        from gluon_sr.model_store import load_model

        teacher, meta = load_model(name, ctx=ctx)
        if meta.get("task") != "adain":
            raise GluonSRError(f"--teacher {name} is not an AdaIN decoder")
        teacher.hybridize(static_alloc=True)
        return teacher

    def batches(self, start_step, batch_size, part=0, num_parts=1):
        return epoch_batches(self.dataset, batch_size, self.seed, start_step, part, num_parts)

    def targets(self, content, painting):
        """From the photo's raw relu4_1 features and the painting: (raw AdaIN features for the
        decoder, their normalised form = the content target, the painting's style targets:
        AdaINLoss.style_targets)."""
        from mxnet import nd

        style = self.loss_fn.style_targets(painting)
        scale = self.scales["relu4_1"].as_in_context(content.context)
        raw_mean, raw_std = (nd.broadcast_div(s, scale) for s in style[0][-1])
        raw = adain(nd, content, raw_mean, raw_std)
        return raw, nd.broadcast_mul(raw, scale), style

    def losses(self, batch, net, ctx):
        from mxnet import autograd, gluon

        if not self._scale_set:
            with autograd.pause():
                net.input_scale.set_data(self.scales["relu4_1"])
            self._scale_set = True
        photos, paintings = ([x.astype("float32") / 255.0 for x in
                              gluon.utils.split_and_load(b, ctx, even_split=False)]
                             for b in batch)
        results = []
        for photo, painting in zip(photos, paintings):
            with autograd.pause():
                own = self.encoder(photo)["relu4_1"]
                raw, target, style = self.targets(own, painting)
            out = net(raw)
            loss, parts = self.loss_fn(out, target, style, self.perceptual)
            if self.teacher:
                parts["teacher"] = self.options.teacher_weight * self.imitation(out, raw)
                loss = loss + parts["teacher"]
            if self.options.identity_weight:
                parts["identity"] = self.options.identity_weight * self.identity(net, photo, own)
                loss = loss + parts["identity"]
            results.append((loss, parts))
        return results

    @staticmethod
    def identity(net, photo, own):
        """Per sample, the mean absolute difference between the photo and its own relu4_1
        features `own` decoded (the `--alpha 0` output without the inference frame)."""
        from mxnet import nd

        return nd.mean(nd.abs(net(own) - photo), axis=(1, 2, 3))

    def imitation(self, out, raw):
        """Per sample, the mean absolute difference between `out` and the teacher's drawing
        of the same features `raw`."""
        from mxnet import autograd, nd

        with autograd.pause():
            drawn = self.teacher(raw)
        return nd.mean(nd.abs(out - drawn), axis=(1, 2, 3))

    def validate(self, net, step, ctx):
        import mxnet as mx

        if not (self.val_photos and self.val_paintings):
            return None
        sums, rows, identity = {}, [], []
        for photo in self.val_photos:
            row = [photo]
            x = mx.nd.array(photo.transpose(2, 0, 1)[None], ctx=ctx)
            own = self.encoder(x)["relu4_1"]                  # once per photo
            for painting in self.val_paintings:
                s = mx.nd.array(painting.transpose(2, 0, 1)[None], ctx=ctx)
                raw, target, style = self.targets(own, s)
                out = net(raw)
                _, parts = self.loss_fn(out, target, style, self.perceptual)
                if self.teacher:
                    parts["teacher"] = self.options.teacher_weight * self.imitation(out, raw)
                for key, value in parts.items():
                    sums[key] = sums.get(key, 0.0) + float(value.asscalar())
                row.append(np.clip(out[0].asnumpy().transpose(1, 2, 0), 0, 1))
            if self.options.identity_weight:
                identity.append(self.options.identity_weight
                                * self.identity(net, x, own).asscalar())
            rows.append(np.concatenate(row, axis=1))
        pairs = len(self.val_photos) * len(self.val_paintings)
        sums = {k: v / pairs for k, v in sums.items()}
        if identity:
            sums["identity"] = float(np.mean(identity))
        header = np.concatenate([np.ones_like(self.val_photos[0])] + self.val_paintings, axis=1)
        preview = os.path.join(self.run_dir, f"preview_{step:07d}.png")
        write_image(preview, np.concatenate([header] + rows, axis=0))
        self.last_val = sums
        return {"step": step, **{f"val_{k}": v for k, v in sums.items()},
                "message": f"step {step}: held-out " + ", ".join(
                    f"{k} {v:.4g}" for k, v in sums.items()) + f"; preview {preview}"}

    def example_input(self, ctx):
        import mxnet as mx

        return mx.nd.zeros((1, 512, 2, 2), ctx=ctx)

    def meta(self):
        o = self.options
        return {
            "task": "adain", "vgg": self.vgg_source,
            "encoder": {"taps": list(ENCODER_TAPS), "cut": "relu4_1",
                        # Each tap's style and content terms are multiplied by this.
                        "tap_loss_scale": {t: float(self.scales[t].mean().asscalar())
                                           for t in ENCODER_TAPS}},
            "training": {"content": list(o.content), "styles": o.styles,
                         "num_paintings": len(self.style_files),
                         "num_photos": len(self.dataset), "data_sha256": self.data_hash},
            "metrics": ({f"val_{k}": v for k, v in self.last_val.items()}
                        if self.last_val else {}),
        }
