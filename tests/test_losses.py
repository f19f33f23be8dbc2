"""Loss values and gradients against numpy, and against the closed forms of seed 004."""
import numpy as np
import pytest
from mxnet import autograd, nd

from gluon_sr.losses import feature_loss, gram_matrix, pixel_loss, style_loss, tv_loss

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
Y = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
N, C, H, W = X.shape


def test_feature_and_pixel_loss_values():
    expected = ((X - Y) ** 2).sum(axis=(1, 2, 3)) / (C * H * W)
    np.testing.assert_allclose(feature_loss(nd, nd.array(X), nd.array(Y)).asnumpy(), expected,
                               rtol=1e-5)
    np.testing.assert_allclose(pixel_loss(nd, nd.array(X), nd.array(Y), "l2").asnumpy(),
                               expected, rtol=1e-5)
    np.testing.assert_allclose(pixel_loss(nd, nd.array(X), nd.array(Y), "l1").asnumpy(),
                               np.abs(X - Y).mean(axis=(1, 2, 3)), rtol=1e-5)


def test_gram_and_style_values():
    flat = X.reshape(N, C, -1)
    gram = np.einsum("nch,ndh->ncd", flat, flat) / (C * H * W)
    np.testing.assert_allclose(gram_matrix(nd, nd.array(X)).asnumpy(), gram, rtol=1e-4, atol=1e-7)
    target = gram_matrix(nd, nd.array(Y[:1]))
    expected = ((gram - target.asnumpy()) ** 2).mean(axis=(1, 2))
    np.testing.assert_allclose(style_loss(nd, nd.array(X), target).asnumpy(), expected, rtol=1e-4)


def test_tv_values():
    dy, dx = X[:, :, 1:] - X[:, :, :-1], X[:, :, :, 1:] - X[:, :, :, :-1]
    np.testing.assert_allclose(tv_loss(nd, nd.array(X), "l1").asnumpy(),
                               np.abs(dy).mean(axis=(1, 2, 3)) + np.abs(dx).mean(axis=(1, 2, 3)),
                               rtol=1e-5)
    np.testing.assert_allclose(tv_loss(nd, nd.array(X), "l2").asnumpy(),
                               (dy ** 2).mean(axis=(1, 2, 3)) + (dx ** 2).mean(axis=(1, 2, 3)),
                               rtol=1e-5)


def _grad(fn):
    x = nd.array(X)
    x.attach_grad()
    with autograd.record():
        loss = fn(x).mean()
    loss.backward()
    return x.grad.asnumpy()


def test_content_gradient_matches_seed_closed_form():
    # Seed 004: L = 1/(2NCHW) sum (X-Y)^2 has dL/dX = (X-Y)/(NCHW). Our batch-mean of
    # ||X-Y||^2/(CHW) is exactly 2L.
    grad = _grad(lambda x: feature_loss(nd, x, nd.array(Y)))
    np.testing.assert_allclose(grad, 2 * (X - Y) / (N * C * H * W), rtol=1e-4, atol=1e-8)


def test_style_gradient_matches_seed_closed_form():
    # Seed 004, with unnormalised Grams G (of X) and A (of the style features):
    # L = 1/(4 N C^2 H^2 W^2) sum (G-A)^2,  dL/dX_i = 1/(N C^2 H^2 W^2) sum_j X_j (G-A)_ji.
    # Ours normalises each Gram by CHW and averages the C^2 squares: the batch mean is 4L/C^2.
    style = Y[:1]
    flat_x, flat_s = X.reshape(N, C, -1), style.reshape(1, C, -1)
    G = np.einsum("nch,ndh->ncd", flat_x, flat_x)
    A = np.einsum("nch,ndh->ncd", flat_s, flat_s)
    closed = np.einsum("njh,nji->nih", flat_x, G - A) / (N * C ** 2 * H ** 2 * W ** 2)
    grad = _grad(lambda x: style_loss(nd, x, nd.array(A / (C * H * W))))
    np.testing.assert_allclose(grad, 4 / C ** 2 * closed.reshape(X.shape), rtol=1e-3, atol=1e-8)


def test_losses_hybridize():
    from mxnet import gluon

    class Wrapped(gluon.HybridBlock):
        def hybrid_forward(self, F, a, b):
            return (feature_loss(F, a, b) + tv_loss(F, a) + style_loss(F, a, gram_matrix(F, b))
                    + pixel_loss(F, a, b, "l1"))

    block = Wrapped()
    block.hybridize()
    eager = (feature_loss(nd, nd.array(X), nd.array(Y)) + tv_loss(nd, nd.array(X))
             + style_loss(nd, nd.array(X), gram_matrix(nd, nd.array(Y)))
             + pixel_loss(nd, nd.array(X), nd.array(Y), "l1"))
    np.testing.assert_allclose(block(nd.array(X), nd.array(Y)).asnumpy(), eager.asnumpy(),
                               rtol=1e-4)


def _stub_vgg(scale):
    """A 'loss net' whose taps are fixed functions of the input, times `scale` (a VGG input
    convention changes the features' scale)."""
    def vgg(x):
        return {"c": scale * nd.relu(x - 0.3), "s1": scale * nd.relu(x[:, ::-1] - 0.2),
                "s2": scale * nd.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="avg")}
    return vgg


def test_balanced_style_weight_against_numpy_and_invariant_to_feature_scale():
    from gluon_sr.losses import STYLE_BALANCE
    from gluon_sr.train.style_task import balanced_style_weight

    photos = rng.random((5, 3, 8, 8)).astype(np.float32)
    painting = rng.random((1, 3, 12, 10)).astype(np.float32)

    def numpy_gram(f):
        flat = f.reshape(f.shape[0], f.shape[1], -1)
        return np.einsum("nch,ndh->ncd", flat, flat) / flat[0].size

    weights = {}
    for scale in (1.0, 10.0):
        vgg = _stub_vgg(scale)
        grams = [gram_matrix(nd, vgg(nd.array(painting))[t]) for t in ("s1", "s2")]
        weights[scale], info = balanced_style_weight(vgg, nd.array(photos), grams, "c",
                                                     ("s1", "s2"), chunk=2)
        feats = {k: v.asnumpy() for k, v in vgg(nd.array(photos)).items()}
        energy = np.mean(feats["c"] ** 2)
        style = np.mean(sum(((numpy_gram(feats[t]) - g.asnumpy()) ** 2).mean(axis=(1, 2))
                            for t, g in zip(("s1", "s2"), grams)))
        np.testing.assert_allclose([info["content_energy"], info["photo_style_loss"]],
                                   [energy, style], rtol=1e-4)
        assert weights[scale] == pytest.approx(STYLE_BALANCE * energy / style, rel=1e-4)
    # Content loss scales as scale^2, Gram loss as scale^4: the weight must scale as 1/scale^2
    # for the two terms to keep their balance.
    assert weights[10.0] == pytest.approx(weights[1.0] / 100, rel=1e-4)
