"""Training a style TransformNet (Johnson et al.) with the shared training loop.

Content images come from folders (resized so the shorter side is `image_size`, random square
crops, flips) or from build.py shards (their HR crops). Loss = content weight x feature loss
at the content layer (relu2_2 by default) + style weight x Gram losses at the style layers
(relu1_2, relu2_2, relu3_3, relu4_3) + TV. Validation scores held-out content images and
writes a preview (content | stylised) PNG.
"""
import hashlib
import os

import numpy as np
from mxnet import gluon
from PIL import Image

from .archs import get_model
from .errors import GluonSRError
from .fileio import sha256_file
from .imageio import list_images, read_image, to_uint8, write_image
from .losses import feature_loss, gram_matrix, style_loss, tv_loss


def resize_shorter(rgb_uint8, size):
    h, w = rgb_uint8.shape[:2]
    scale = size / min(h, w)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    return np.asarray(Image.fromarray(rgb_uint8).resize(new, Image.BICUBIC))


class ContentFolderDataset(gluon.data.Dataset):
    """Content photos held in memory at `size` on the shorter side; random size^2 crops + flips.

    Crops are drawn from (seed, epoch, index), like ShardDataset's augmentation, so a resumed
    run sees the same data as an uninterrupted one.
    """

    def __init__(self, folders, size=256, seed=0, log=print):
        self.size, self.seed, self.epoch = size, seed, 0
        self.images, self.files, skipped = [], [], 0
        for path in list_images(folders):
            try:
                self.images.append(resize_shorter(to_uint8(read_image(path).rgb), size))
                self.files.append(os.path.relpath(path))
            except GluonSRError as e:
                skipped += 1
                log(f"warning: skipped {e}")
        if not self.images:
            raise GluonSRError(f"no usable content images in {', '.join(folders)}")
        self.counts = [len(self.images)]           # one "shard", for ShardGroupedSampler
        self.offsets = np.array([0, len(self.images)])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        img = self.images[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        y = rng.integers(0, img.shape[0] - self.size + 1)
        x = rng.integers(0, img.shape[1] - self.size + 1)
        crop = img[y:y + self.size, x:x + self.size]
        if rng.integers(2):
            crop = crop[:, ::-1]
        return np.ascontiguousarray(crop.transpose(2, 0, 1))

    def fingerprint(self):
        return hashlib.sha256("\n".join(self.files).encode()).hexdigest()


class StyleLoss:
    def __init__(self, cfg, vgg, style_grams):
        self.cfg, self.vgg, self.style_grams = cfg, vgg, style_grams
        taps = list(vgg.taps)
        self.content_index = taps.index(cfg.feat_layers[0])
        self.style_indices = [taps.index(t) for t in cfg.style_layers]

    def __call__(self, out, content_feats, grams):
        from mxnet import nd

        cfg = self.cfg
        feats = self.vgg(out)
        parts = {
            "content": cfg.feat_weight * feature_loss(nd, feats[self.content_index],
                                                      content_feats[self.content_index]),
            "style": cfg.style_weight * sum(style_loss(nd, feats[i], g)
                                            for i, g in zip(self.style_indices, grams)),
        }
        if cfg.tv_weight > 0:
            parts["tv"] = cfg.tv_weight * tv_loss(nd, out, cfg.tv_kind)
        return sum(parts.values()), parts


class StyleTask:
    """The style-transfer task for `training.run_training` (see SRTask for the interface)."""

    task = "style"

    def __init__(self, cfg, ctx, log=print):
        import mxnet as mx

        from .vgg import load_loss_vgg

        if not cfg.style_image:
            raise GluonSRError("--task style needs --style-image")
        if not cfg.content and not cfg.shards:
            raise GluonSRError("--task style needs --content DIR (or --shards)")
        self.cfg, self.ctx = cfg, ctx
        if cfg.content:
            self.dataset = ContentFolderDataset(cfg.content, cfg.image_size, cfg.seed, log)
            fingerprint = self.dataset.fingerprint()
        else:
            from .dataset import ShardDataset
            from .shards import manifest_hash

            self.dataset = _HRCrops(ShardDataset(cfg.shards, augment=cfg.augment, seed=cfg.seed))
            fingerprint = manifest_hash(cfg.shards)
        if len(self.dataset) < cfg.batch_size:
            raise GluonSRError(f"batch size {cfg.batch_size} is larger than the "
                               f"{len(self.dataset)} content images")
        self.data_hash = hashlib.sha256(
            (fingerprint + sha256_file(cfg.style_image)).encode()).hexdigest()
        try:
            self.net = get_model(cfg.arch, **cfg.model_config)
        except (TypeError, ValueError) as e:
            raise GluonSRError(f"model: {e}")
        taps = tuple(dict.fromkeys((*cfg.style_layers, cfg.feat_layers[0])))
        self.vgg, self.vgg_source = load_loss_vgg(taps, weights=cfg.vgg or None, ctx=ctx)
        self.vgg.hybridize(static_alloc=True)
        style = read_image(cfg.style_image).rgb
        if cfg.style_size:
            style = resize_shorter(to_uint8(style), cfg.style_size).astype(np.float32) / 255
        self.style_grams = {}
        for c in ctx:
            feats = self.vgg(mx.nd.array(style.transpose(2, 0, 1)[None], ctx=c))
            self.style_grams[c] = [gram_matrix(mx.nd, feats[taps.index(t)])
                                   for t in cfg.style_layers]
        self.loss_fn = StyleLoss(cfg, self.vgg, None)
        self.val_images = []
        if cfg.val_dir:
            for path in list_images([cfg.val_dir])[:cfg.val_images]:
                img = resize_shorter(to_uint8(read_image(path).rgb), cfg.image_size)
                top = (img.shape[0] - cfg.image_size) // 2
                left = (img.shape[1] - cfg.image_size) // 2
                self.val_images.append(
                    img[top:top + cfg.image_size, left:left + cfg.image_size] / 255.0)
        self.last_val = None

    def batches(self, start_step, batch_size, part=0, num_parts=1):
        from .training import epoch_batches

        return epoch_batches(self.dataset, batch_size, self.cfg.seed, start_step, part, num_parts)

    def losses(self, batch, net, ctx):
        from mxnet import autograd

        images = batch[0] if isinstance(batch, (list, tuple)) else batch
        xs = [x.astype("float32") / 255.0
              for x in gluon.utils.split_and_load(images, ctx, even_split=False)]
        results = []
        for x in xs:
            with autograd.pause():
                content_feats = self.vgg(x)
            results.append(self.loss_fn(net(x), content_feats, self.style_grams[x.context]))
        return results

    def validate(self, net, step, ctx):
        import mxnet as mx

        if not self.val_images:
            return None
        sums = {}
        rows = []
        for img in self.val_images:
            x = mx.nd.array(img.transpose(2, 0, 1)[None].astype(np.float32), ctx=ctx)
            out = net(x)
            _, parts = self.loss_fn(out, self.vgg(x), self.style_grams[ctx])
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + float(value.asscalar()) / len(self.val_images)
            rows.append(np.concatenate([img, out[0].asnumpy().transpose(1, 2, 0)], axis=1))
        preview = os.path.join(self.cfg.run_path(), f"preview_{step:07d}.png")
        write_image(preview, np.concatenate(rows[:4], axis=0))
        self.last_val = sums
        return {"step": step, **{f"val_{k}": v for k, v in sums.items()},
                "message": f"step {step}: held-out content {sums['content']:.4g}, "
                           f"style {sums['style']:.4g}; preview {preview}"}

    def meta(self):
        cfg = self.cfg
        return {"task": "style", "vgg": self.vgg_source,
                "style": {"image": os.path.basename(cfg.style_image),
                          "style_image_sha256": sha256_file(cfg.style_image),
                          "style_size": cfg.style_size, "style_layers": list(cfg.style_layers),
                          "content_layer": cfg.feat_layers[0]},
                "training": {"content": cfg.content, "num_content_images": len(self.dataset)},
                "metrics": ({"val_dir": cfg.val_dir, "val_images": len(self.val_images),
                             **{f"val_{k}_loss": v for k, v in self.last_val.items()}}
                            if self.last_val else {})}


class _HRCrops(gluon.data.Dataset):
    """Only the HR crops of a ShardDataset, as style-training content."""

    def __init__(self, shards):
        self.shards = shards
        self.counts, self.offsets = shards.counts, shards.offsets

    @property
    def epoch(self):
        return self.shards.epoch

    @epoch.setter
    def epoch(self, value):
        self.shards.epoch = value

    def __len__(self):
        return len(self.shards)

    def __getitem__(self, index):
        return self.shards[index][1]

