"""Adversarial losses (seeds 000, 001, 003) on the outputs of archs.discriminator.

A discriminator output is a list over scales of lists of feature maps, the last of each the
patch logits. Every loss returns one value per sample (N,), averaged over patches and scales,
like the losses in losses.py. Kinds:
  vanilla  D: BCE with logits; G: the non-saturating -log D(G(z)) (Goodfellow; seed 003), whose
           gradient does not vanish when D confidently rejects the fakes
  lsgan    least squares, targets 1 / 0 (Mao et al.; pix2pixHD's default)
  hinge    D: relu(1 - real) + relu(1 + fake); G: -fake (SAGAN)
  ragan    relativistic average (ESRGAN): D judges whether real looks more real than the
           average fake, G the reverse; both terms use both batches
"""
GAN_KINDS = ("vanilla", "lsgan", "hinge", "ragan")


def _logits(outputs):
    return [scale[-1] for scale in outputs]


def _softplus(F, x):
    # log(1 + exp(x)), stable for large |x|.
    return F.relu(x) + F.log1p(F.exp(-F.abs(x)))


def _per_sample(F, maps):
    return sum(F.mean(m, axis=(1, 2, 3)) for m in maps) / len(maps)


def _relativistic(F, a, b):
    """a - mean over the batch of b, per scale."""
    return [F.broadcast_sub(x, F.mean(y, axis=0, keepdims=True)) for x, y in zip(a, b)]


def discriminator_loss(F, kind, real_out, fake_out):
    """D's loss on a real batch and a (detached) fake batch; per sample (N,)."""
    real, fake = _logits(real_out), _logits(fake_out)
    if kind == "vanilla":      # BCE(real, 1) + BCE(fake, 0)
        return _per_sample(F, [_softplus(F, -r) for r in real]) + \
            _per_sample(F, [_softplus(F, f) for f in fake])
    if kind == "lsgan":
        return _per_sample(F, [F.square(r - 1) for r in real]) + \
            _per_sample(F, [F.square(f) for f in fake])
    if kind == "hinge":
        return _per_sample(F, [F.relu(1 - r) for r in real]) + \
            _per_sample(F, [F.relu(1 + f) for f in fake])
    if kind == "ragan":
        return _per_sample(F, [_softplus(F, -d) for d in _relativistic(F, real, fake)]) + \
            _per_sample(F, [_softplus(F, d) for d in _relativistic(F, fake, real)])
    raise ValueError(f"unknown GAN loss {kind!r}; expected one of {GAN_KINDS}")


def generator_loss(F, kind, fake_out, real_out=None):
    """G's adversarial loss; per sample (N,). `real_out` (detached) is needed by ragan only."""
    fake = _logits(fake_out)
    if kind == "vanilla":      # non-saturating: BCE(fake, 1)
        return _per_sample(F, [_softplus(F, -f) for f in fake])
    if kind == "lsgan":
        return _per_sample(F, [F.square(f - 1) for f in fake])
    if kind == "hinge":
        return _per_sample(F, [-f for f in fake])
    if kind == "ragan":
        real = _logits(real_out)
        return _per_sample(F, [_softplus(F, d) for d in _relativistic(F, real, fake)]) + \
            _per_sample(F, [_softplus(F, -d) for d in _relativistic(F, fake, real)])
    raise ValueError(f"unknown GAN loss {kind!r}; expected one of {GAN_KINDS}")


def feature_matching_loss(F, fake_out, real_out):
    """pix2pixHD's feature matching: mean L1 between D's intermediate features on the fake and
    on the (detached) real image, every layer but the logits, averaged over scales; per sample.
    pix2pixHD weights each layer 4 / (n_layers + 1) and each scale 1 / num_D; with the layer
    mean taken here that is the same up to a constant folded into the weight (~10)."""
    total = 0
    for fake_scale, real_scale in zip(fake_out, real_out):
        layers = list(zip(fake_scale[:-1], real_scale[:-1]))
        total = total + sum(F.mean(F.abs(f - r), axis=(1, 2, 3)) for f, r in layers) / len(layers)
    return total / len(fake_out)
