"""Loss values and gradients against numpy, and against the closed forms of seed 004."""
import numpy as np
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
