"""Adversarial fine-tuning of an SR network (SRGAN / ESRGAN, with the pieces of seeds 000,
001 and 003): the SR task's data and pixel/feature losses plus a discriminator.

Every step: G's update (by the loop) on L1 + VGG feature + adversarial (+ feature-matching)
loss against the current D, then D's update (here, `auxiliary_step`) on the same real batch and
G's detached output of that step: separate real and fake batches through D (seed 003). D has its
own Adam; an exponential moving average of G's weights is kept and is the model saved.
"""
import logging
import os
from dataclasses import dataclass, field

import numpy as np

from gluon_sr.archs import get_model, model_spec
from gluon_sr.gan_losses import (GAN_KINDS, discriminator_loss, feature_matching_loss,
                                 generator_loss)
from gluon_sr.evaluation.lpips import ENV_WEIGHTS as ENV_LPIPS
from gluon_sr.train.sr_task import SROptions, SRTask
from gluon_sr.utils.errors import GluonSRError
from gluon_sr.utils.imageio import write_image
from gluon_sr.utils.imresize import imresize

logger = logging.getLogger(__name__)


@dataclass
class GANOptions(SROptions):
    disc: str = "patchgan"                          # patchgan | multiscale_patchgan
    disc_config: dict = field(default_factory=dict)
    gan_kind: str = "ragan"
    gan_weight: float = 0.005
    fm_weight: float = 0.0                          # pix2pixHD feature matching (~10 there)
    d_lr: float = 1e-4
    d_warmup: int = 0                               # steps that train D only
    ema_decay: float = 0.999                        # 0 = save G itself
    patch: int = 0                                  # HR patch cropped from each sample; 0 = all
    parent: str = ""                # the fidelity model --interp blends with; "" = --init

    def validate(self):
        super().validate()
        if self.gan_kind not in GAN_KINDS:
            raise GluonSRError(f"--gan-loss must be one of {', '.join(GAN_KINDS)}")
        if self.gan_weight <= 0:
            raise GluonSRError("--gan-weight must be > 0 (else train with --task sr)")
        if self.fm_weight < 0 or self.d_lr <= 0 or self.d_warmup < 0:
            raise GluonSRError("--fm-weight, --d-lr and --d-warmup must be >= 0 (--d-lr > 0)")
        if not 0 <= self.ema_decay < 1:
            raise GluonSRError("--ema-decay must be in [0, 1)")


class GANTask(SRTask):
    """SR fine-tuning against a discriminator (interface in task.py)."""

    Options = GANOptions
    # ESRGAN's fine-tuning weights (L1 1e-2, VGG conv5_4 1, RaGAN 5e-3), with the VGG loss
    # normalised per element here (losses.feature_loss): the weights below restate that
    # balance for our scale of features (caffe VGG16 conv5_3 and conv4_3 before the ReLU).
    recipe = {**SRTask.recipe, "steps": 2000, "batch_size": 8, "lr": 1e-4, "warmup": 0,
              "lr_mode": "constant", "lr_final": None, "checkpoint_every": 100,
              "log_every": 20}

    def __init__(self, cfg, ctx):
        import mxnet as mx

        super().__init__(cfg, ctx)
        o = self.options
        if o.patch and (o.patch % self.scale or o.patch > self.dataset.recipe["crop"]):
            raise GluonSRError(f"--patch {o.patch} must be a multiple of the scale "
                               f"{self.scale} and at most the shards' crop "
                               f"{self.dataset.recipe['crop']}")
        if not cfg.init and not cfg.resume:
            logger.warning("GAN training from scratch: start from a trained SR model (--init)")
        if not isinstance(cfg.kvstore, str) or cfg.kvstore.startswith("dist"):
            raise GluonSRError("the GAN task trains on one machine (its second trainer has no "
                               "dist kvstore of its own); use --kvstore device or local")
        self.parent = o.parent or cfg.init
        self.lpips, self.last_lpips = None, None
        if os.environ.get(ENV_LPIPS) and self.validator:
            from gluon_sr.evaluation.lpips import LPIPS

            self.lpips = LPIPS(ctx=ctx[0])
        self.ctx, self.run_dir = ctx, cfg.run_path()
        try:
            self.disc = get_model(o.disc, **o.disc_config)
        except (TypeError, ValueError) as e:
            raise GluonSRError(f"discriminator: {e}")
        self.disc.initialize(ctx=ctx)
        self.disc.hybridize(static_alloc=True, static_shape=True)
        self.d_trainer = mx.gluon.Trainer(self.disc.collect_params(), "adam",
                                          {"learning_rate": o.d_lr, "beta1": 0.9,
                                           "beta2": 0.999}, kvstore=cfg.kvstore)
        self.ema = None
        if o.ema_decay:
            self.ema = get_model(cfg.arch, scale=self.scale, **cfg.model_config)
            self.ema.initialize(ctx=ctx[0])
            self.ema.hybridize(static_alloc=True)
        self._pending, self._net = [], None
        self.rng_seed = cfg.seed

    # --- data ---------------------------------------------------------------------------
    def batches(self, start_step, batch_size, part=0, num_parts=1):
        stream = super().batches(start_step, batch_size, part, num_parts)
        patch = self.options.patch
        for step, batch in enumerate(stream, start_step):
            if patch:
                batch = self._crop(batch, patch, np.random.default_rng([self.rng_seed, step]))
            yield batch

    def _crop(self, batch, patch, rng):
        """The same random HR patch (and its LR patch) from every sample of the batch."""
        lr, hr = batch[0], batch[1]
        s = self.scale
        lp = patch // s
        top = int(rng.integers(0, lr.shape[2] - lp + 1))
        left = int(rng.integers(0, lr.shape[3] - lp + 1))
        return [lr[:, :, top:top + lp, left:left + lp],
                hr[:, :, top * s:(top + lp) * s, left * s:(left + lp) * s]] + list(batch[2:])

    # --- losses -------------------------------------------------------------------------
    def losses(self, batch, net, ctx):
        from mxnet import autograd, gluon, nd

        self._net = net

        def load(array):
            return gluon.utils.split_and_load(array, ctx, even_split=False)

        o = self.options
        xs = [x.astype("float32") / 255.0 for x in load(batch[0])]
        ys = [y.astype("float32") / 255.0 for y in load(batch[1])]
        results, self._pending = [], []
        for x, y in zip(xs, ys):
            with autograd.pause():
                target = self.loss_fn.target_features(y)
                # D's view of the real batch: only RaGAN and feature matching use it here.
                real_out = self.disc(y) if o.gan_kind == "ragan" or o.fm_weight else None
            fake = net(x)
            if self.ema is not None and not self._ema_ready:
                with autograd.pause():      # after net's first pass, before its first update
                    self._copy_to_ema(net, x)
            total, parts = self.loss_fn(fake, y, target)
            fake_out = self.disc(fake)
            parts["gan"] = o.gan_weight * generator_loss(nd, o.gan_kind, fake_out, real_out)
            if o.fm_weight:
                parts["fm"] = o.fm_weight * feature_matching_loss(nd, fake_out, real_out)
            results.append((sum(parts.values()), parts))
            self._pending.append((y, fake.detach()))
        return results

    def trains_net(self, step):
        return step >= self.options.d_warmup

    def auxiliary_step(self, step, batch_size):
        """D's update on this step's real batch and G's detached output, then the EMA."""
        from mxnet import autograd, nd

        kind = self.options.gan_kind
        self.disc.power_iteration()
        with autograd.record():
            outs = [(self.disc(real), self.disc(fake)) for real, fake in self._pending]
            d_losses = [discriminator_loss(nd, kind, r, f) for r, f in outs]
        autograd.backward(d_losses)
        self.d_trainer.step(batch_size)
        if self.ema is not None and self.trains_net(step):
            self._update_ema()
        self._pending = []
        return {"d_loss": nd.concat(*[d.as_in_context(d_losses[0].context) for d in d_losses],
                                    dim=0),
                "d_real": self._mean_logit([r for r, _ in outs]),
                "d_fake": self._mean_logit([f for _, f in outs])}

    @staticmethod
    def _mean_logit(outputs):
        """Per sample: D's mean logit over its patches and scales."""
        from mxnet import nd

        per_device = [sum(nd.mean(scale[-1], axis=(1, 2, 3)) for scale in out) / len(out)
                      for out in outputs]
        return nd.concat(*[p.as_in_context(per_device[0].context) for p in per_device], dim=0)

    # --- EMA ----------------------------------------------------------------------------
    _ema_ready = False

    def _copy_to_ema(self, net, x):
        self.ema(x.as_in_context(self.ctx[0]))     # completes the deferred initialisation
        for (_, src), (_, dst) in zip(sorted(net.collect_params().items()),
                                      sorted(self.ema.collect_params().items())):
            dst.set_data(src.data(self.ctx[0]))
        self._ema_ready = True

    def _update_ema(self):
        d = self.options.ema_decay
        for (_, src), (_, dst) in zip(sorted(self._net.collect_params().items()),
                                      sorted(self.ema.collect_params().items())):
            value = dst.data()
            value[:] = d * value + (1 - d) * src.data(self.ctx[0])

    def final_net(self, net):
        return self.ema if self.ema is not None else net

    def checkpoint_files(self):
        files = {".d.params": (self.disc.save_parameters,
                               lambda path: self.disc.load_parameters(path, ctx=self.ctx)),
                 ".d.states": (self.d_trainer.save_states, self._load_d_states)}
        if self.ema is not None:
            files[".ema.params"] = (self.ema.save_parameters, self._load_ema)
        return files

    def _load_d_states(self, path):
        # The states carry the pickled optimiser and its learning rate; the recipe's --d-lr
        # wins, so a resumed run can continue with a different one.
        self.d_trainer.load_states(path)
        self.d_trainer.set_learning_rate(self.options.d_lr)

    def _load_ema(self, path):
        self.ema.load_parameters(path, ctx=self.ctx[0])
        self._ema_ready = True

    # --- validation and description -------------------------------------------------------
    def validate(self, net, step, ctx):
        """Y-PSNR of the saved net (the EMA) and a preview PNG: bicubic | G | HR, 3 images."""
        if not self.validator:
            return None
        outputs = self.validator.outputs(self.final_net(net), ctx)
        record = self._psnr_record(step, outputs)
        if self.lpips:
            record["val_lpips"] = float(np.mean([
                self.lpips(out, hr) for out, (_, hr) in zip(outputs, self.validator.pairs)]))
            record["message"] += f", LPIPS {record['val_lpips']:.4f}"
            self.last_lpips = record["val_lpips"]
        rows = [np.concatenate([np.clip(imresize(lr.astype(np.float64), self.scale), 0, 1),
                                out, hr], axis=1)
                for out, (lr, hr) in zip(outputs[:3], self.validator.pairs)]
        side = min(r.shape[0] for r in rows), min(r.shape[1] for r in rows)
        preview = os.path.join(self.run_dir, f"preview_{step:07d}.png")
        write_image(preview, np.concatenate([r[:side[0], :side[1]] for r in rows], axis=0))
        record["message"] += f"; preview {preview}"
        return record

    def meta(self):
        meta = super().meta()
        meta["task"] = "sr"
        meta["parent"] = self.parent or None
        meta["training"]["discriminator"] = model_spec(self.disc)
        meta["training"]["ema_decay"] = self.options.ema_decay
        if self.last_lpips is not None:
            meta["metrics"]["val_lpips"] = self.last_lpips
        return meta
