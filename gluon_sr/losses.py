"""Perceptual-loss terms with the normalisation of Johnson et al. (ECCV 2016).

Every function takes NDArrays (or Symbols, via F) shaped (N, C, H, W) and returns one scalar per
sample (shape (N,)), so that per-device losses can be summed and divided by the global batch.
The style objective's layers and default weight live here too: the style task, Gatys and the
benches must agree on them.
"""

CONTENT_LAYER = "relu2_2"
STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
# Gatys' default style weight against content weight 1 (--optimize, the benches' Gatys runs).
STYLE_WEIGHT = 0.3
# The style network's weight rule (style_task.balanced_style_weight): the weighted style loss
# of plain training photos is STYLE_BALANCE times their content feature energy, the content
# loss of an output that kept nothing of the photo. A painting whose Gram statistics are far
# from photos' (mosaic) gets a low weight, a near one (udnie) a high one, so each starts from
# the same balance. Calibrated on udnie, whose network (weight 1) matched the public udnie
# network's content loss on held-out photos (docs/style_transfer.md). That holds for the
# painting at 256 px; scored at 512 px, the recipes use 9.6 (--style-balance), which gives
# udnie the weight 3 its third stage was trained with.
STYLE_BALANCE = 3.0


def feature_loss(F, pred_feat, target_feat):
    """l_feat = ||phi(y_hat) - phi(y)||_2^2 / (C H W)."""
    return F.mean(F.square(pred_feat - target_feat), axis=(1, 2, 3))


def pixel_loss(F, pred, target, kind="l2"):
    """Per-pixel loss, normalised by C H W: squared error ('l2') or absolute error ('l1')."""
    diff = pred - target
    err = F.abs(diff) if kind == "l1" else F.square(diff)
    return F.mean(err, axis=(1, 2, 3))


def gram_matrix(F, feat):
    """G = phi phi^T / (C H W), shape (N, C, C)."""
    flat = F.reshape(feat, shape=(0, 0, -1))                   # N, C, HW
    gram = F.batch_dot(flat, flat, transpose_b=True)
    denom = F.reshape(F.sum(F.ones_like(F.slice_axis(feat, axis=0, begin=0, end=1))), shape=(1,))
    return F.broadcast_div(gram, F.reshape(denom, shape=(1, 1, 1)))


def style_loss(F, pred_feat, target_gram):
    """l_style = ||G(y_hat) - G(y_s)||_F^2 / C^2; target_gram is (1, C, C) or (N, C, C).

    The mean over the C x C entries (Johnson et al.'s code) rather than the paper's plain
    Frobenius norm: summed, a layer's loss grows with C^2, and relu4_3 (512 channels) would
    outweigh relu1_2 (64), which carries the painting's colours, 64-fold.
    """
    diff = F.broadcast_sub(gram_matrix(F, pred_feat), target_gram)
    return F.mean(F.square(diff), axis=(1, 2))


def tv_loss(F, img, kind="l1"):
    """Total variation: mean absolute ('l1', as in seed 002) or squared ('l2') neighbour difference."""
    dy = F.slice_axis(img, axis=2, begin=1, end=None) - F.slice_axis(img, axis=2, begin=0, end=-1)
    dx = F.slice_axis(img, axis=3, begin=1, end=None) - F.slice_axis(img, axis=3, begin=0, end=-1)
    if kind == "l1":
        dy, dx = F.abs(dy), F.abs(dx)
    else:
        dy, dx = F.square(dy), F.square(dx)
    return F.mean(dy, axis=(1, 2, 3)) + F.mean(dx, axis=(1, 2, 3))


def periodic_detail_means(F, x, period):
    """(N, C, period, period): for each of the period x period pixel phases, the mean over the
    image of the fine detail (the image minus its 3x3 mean) at that phase. ~0 in natural
    images and paintings, which nothing aligns to a pixel grid; a network that upsamples by
    2^k can lay a grid of period 2^k, which shows here. NDArray only (the shapes are read)."""
    detail = x - F.Pooling(x, kernel=(3, 3), pad=(1, 1), stride=(1, 1), pool_type="avg",
                           count_include_pad=False)
    n, c, h, w = detail.shape
    h, w = h - h % period, w - w % period
    detail = F.slice(detail, begin=(None, None, 0, 0), end=(None, None, h, w))
    return F.mean(F.reshape(detail, (n, c, h // period, period, w // period, period)),
                  axis=(2, 4))


def periodic_loss(F, pred, target, period):
    """Squared error of periodic_detail_means, pred against target. A sub-pixel upsampler
    gives each phase its own filter, and a feature loss can drive them apart into a dotted
    grid of exactly this period (docs/gan.md)."""
    return F.mean(F.square(periodic_detail_means(F, pred, period)
                           - periodic_detail_means(F, target, period)), axis=(1, 2, 3))
