"""Image quality metrics with the SR literature's protocol (Y channel, border shaved)."""
import numpy as np

from gluon_sr.utils.color import rgb_to_y


def _as_y(img):
    """Y channel (16..235 scale) of an HxWx3 float image in 0..1; HxW input is taken as Y-ready gray."""
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 2:
        return 16.0 + img * 219.0
    return rgb_to_y(img)


def output_psnr(a, b):
    """PSNR (dB) of image b against image a, both 0..1, all channels (no ground truth: a
    network's picture against its own reference output)."""
    mse = float(np.mean(np.square(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def _shave(img, border):
    return img[border:-border, border:-border] if border > 0 else img


def psnr_y(pred, target, border=0):
    """PSNR in dB on the BT.601 Y channel of two images in 0..1 (peak 255)."""
    p = _shave(_as_y(pred), border)
    t = _shave(_as_y(target), border)
    mse = np.mean((p - t) ** 2)
    if mse == 0:
        return float("inf")
    return float(10 * np.log10(255.0 ** 2 / mse))


def _gaussian_window(size=11, sigma=1.5):
    ax = np.arange(size) - size // 2
    g = np.exp(-(ax ** 2) / (2 * sigma ** 2))
    w = np.outer(g, g)
    return w / w.sum()


def _filter_valid(img, window):
    """2-D 'valid' correlation with a small window (separable use would need a rank-1 window)."""
    k = window.shape[0]
    h, w = img.shape
    out = np.zeros((h - k + 1, w - k + 1))
    for dy in range(k):
        for dx in range(k):
            out += window[dy, dx] * img[dy:dy + h - k + 1, dx:dx + w - k + 1]
    return out


def ssim_y(pred, target, border=0):
    """SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) on the Y channel, peak 255."""
    p = _shave(_as_y(pred), border)
    t = _shave(_as_y(target), border)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    win = _gaussian_window()
    mu_p, mu_t = _filter_valid(p, win), _filter_valid(t, win)
    var_p = _filter_valid(p * p, win) - mu_p ** 2
    var_t = _filter_valid(t * t, win) - mu_t ** 2
    cov = _filter_valid(p * t, win) - mu_p * mu_t
    ssim_map = ((2 * mu_p * mu_t + c1) * (2 * cov + c2)) / ((mu_p ** 2 + mu_t ** 2 + c1) * (var_p + var_t + c2))
    return float(ssim_map.mean())


def score(pred, hr, scale, with_ssim=True):
    """Y-PSNR (and SSIM) of uint8 images, by the benchmark protocol, and the periodic-texture
    score of the output at the scale's period."""
    pred, hr = pred.astype(np.float64) / 255.0, hr.astype(np.float64) / 255.0
    return {"psnr": psnr_y(pred, hr, scale), "ssim": ssim_y(pred, hr, scale) if with_ssim else None,
            "grid": periodic_texture(pred, scale)}


def periodic_texture(img, period):
    """How strongly an image repeats with `period` pixels: the mean, over the harmonics of
    1/period in both directions, of the spectrum's peak there over the median of its
    surroundings (13x13 bins), on the Y channel's fine detail (minus a 2 px Gaussian blur),
    Hann-windowed. An upsampler that gives each of the period^2 output phases its own filter
    (sub-pixel convolution) can lay a dotted grid of exactly that period over flat areas;
    natural photos score about 2, the grid 10 and more. Floats in 0..1."""
    from scipy import ndimage

    y = _as_y(img)
    detail = y - ndimage.gaussian_filter(y, 2.0)
    h, w = detail.shape
    spectrum = np.abs(np.fft.fft2(detail * np.outer(np.hanning(h), np.hanning(w))))
    near, around = np.arange(-1, 2), np.arange(-6, 7)
    ratios = []
    for i in range(period):
        for j in range(period):
            if i or j:
                fy, fx = round(i * h / period), round(j * w / period)
                peak = spectrum[np.ix_((fy + near) % h, (fx + near) % w)].max()
                ring = spectrum[np.ix_((fy + around) % h, (fx + around) % w)]
                ratios.append(peak / max(np.median(ring), 1e-12))
    return float(np.mean(ratios))
