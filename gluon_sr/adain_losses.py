"""AdaIN's losses on the decoder's output (Huang & Belongie 2017; seed 003), computed on the
frozen VGG16 encoder's features of that output:
    content: mean squared distance to the AdaIN target at relu4_1
    style:   sum over relu1_1, relu2_1, relu3_1, relu4_1 of the mean squared distances of the
             per-channel means and of the per-channel standard deviations to the painting's,
each tap's features divided by the tap's mean activation on the training images, so that the
four layers weigh alike as in the original's normalised VGG (see archs/adain.py and
docs/adain.md: per-channel scales, the original's, let one near-dead channel take the loss).

Optionally a Gram term: at each of STYLE_LAYERS (where Gatys and the benches score style), the
squared distance of the output's Gram matrix to the painting crop's, divided by the painting's
Gram energy. Means and standard deviations per channel leave out how channels fire together,
which a Gram matrix holds. Unnormalised, the term is heavy-tailed (a few high-contrast
paintings give 10x the rest) and, measured, its spikes threw the decoder off at Adam 1e-4
(docs/adain.md). And optionally a grid term: the decoder's three x2 nearest upsamplings can
leave a faint grid of period 8 in flat areas (the bench's `grid_8px`); the term is the mean
square of the output's per-phase detail means at that period (losses.periodic_detail_means),
which are ~0 in any picture not aligned to the pixel grid.
"""
from gluon_sr.archs.adain import ENCODER_TAPS, GRID_PERIOD, channel_mean_std
from gluon_sr.losses import STYLE_LAYERS, gram_matrix, periodic_detail_means, style_loss


def relative_gram_distance(feat, target_gram):
    """Per sample: losses.style_loss of `feat` against `target_gram` (N, C, C) divided by the
    mean square of `target_gram`'s entries, so that every painting counts alike."""
    from mxnet import nd

    energy = nd.mean(nd.square(target_gram), axis=(1, 2))
    return style_loss(nd, feat, target_gram) / (energy + 1e-12)


class AdaINLoss:
    def __init__(self, options, encoder, scales):
        self.options, self.encoder, self.scales = options, encoder, scales

    def features(self, x):
        """(normalised encoder features {tap: array}, the raw features of every tap)."""
        from mxnet import nd

        raw = self.encoder(x)
        return {t: nd.broadcast_mul(raw[t], self.scales[t].as_in_context(x.context))
                for t in ENCODER_TAPS}, raw

    def style_targets(self, painting):
        """The painting's normalised (mean, std) per encoder tap, and its Gram matrices at
        STYLE_LAYERS when the Gram term is on."""
        from mxnet import nd

        feats, raw = self.features(painting)
        stats = [channel_mean_std(nd, feats[t]) for t in ENCODER_TAPS]
        grams = ([gram_matrix(nd, raw[t]) for t in STYLE_LAYERS]
                 if self.options.gram_weight else [])
        return stats, grams

    def __call__(self, out, target, style_targets, perceptual=True):
        """(per-sample total, {part: per-sample weighted term}); perceptual=False leaves out
        the terms on the output's encoder features (content, style, Gram)."""
        from mxnet import nd

        parts = self.perceptual(out, target, style_targets) if perceptual else {}
        if self.options.grid_weight:
            parts["grid"] = self.options.grid_weight * nd.mean(
                nd.square(periodic_detail_means(nd, out, GRID_PERIOD)), axis=(1, 2, 3))
        return sum(parts.values()), parts

    def perceptual(self, out, target, style_targets):
        from mxnet import nd

        feats, raw = self.features(out)
        stats, grams = style_targets
        content = nd.mean(nd.square(feats["relu4_1"] - target), axis=(1, 2, 3))
        style = 0
        for tap, (mean_s, std_s) in zip(ENCODER_TAPS, stats):
            mean, std = channel_mean_std(nd, feats[tap])
            style = style + nd.mean(nd.square(mean - mean_s), axis=(1, 2, 3)) \
                + nd.mean(nd.square(std - std_s), axis=(1, 2, 3))
        parts = {"content": self.options.feat_weight * content,
                 "style": self.options.style_weight * style}
        if grams:
            parts["gram"] = self.options.gram_weight * sum(
                relative_gram_distance(raw[t], g) for t, g in zip(STYLE_LAYERS, grams))
        return parts
