"""Comparison figures: the same crop of every method's output side by side, with Y-PSNR."""
import numpy as np

from gluon_sr.evaluation.metrics import score


def _window_sums(values, size):
    integral = np.pad(values.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return (integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size]
            + integral[:-size, :-size])


def detail_crop(hr, size, flattest=False):
    """Top-left corner of the size x size window with the most edge energy (the telling part),
    or with `flattest` the least, among windows neither near black nor near white (a flat
    fill, where noise, ringing and dotted textures show)."""
    y = hr.astype(np.float64).mean(axis=2)
    energy = np.abs(np.diff(y, axis=0))[:, :-1] + np.abs(np.diff(y, axis=1))[:-1]
    size = min(size, energy.shape[0], energy.shape[1])
    sums = _window_sums(energy, size)
    if flattest:
        mean = _window_sums(y[:-1, :-1], size) / size ** 2
        sums = np.where((mean > 25) & (mean < 230), sums, np.inf)
        top, left = np.unravel_index(np.argmin(sums), sums.shape)
    else:
        top, left = np.unravel_index(np.argmax(sums), sums.shape)
    return int(top), int(left), size


def comparison_figure(path, title, hr, lr, outputs, scale, crop=96, flat=False):
    """LR (nearest) / each method / HR, zoomed on the most detailed crop (and with `flat` on
    the flattest too, a second row), with Y-PSNR labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gluon_sr.utils.fileio import atomic_path

    windows = []
    for flattest in (False, True)[:2 if flat else 1]:
        top, left, size = detail_crop(hr, crop, flattest)
        windows.append((slice(top, top + size), slice(left, left + size)))
    lr_up = np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)
    panels = [("LR (nearest)", lr_up, None)] + [
        (name, img, score(img, hr, scale, False)["psnr"]) for name, img in outputs.items()
    ] + [("HR", hr, None)]
    fig, axes = plt.subplots(len(windows), len(panels),
                             figsize=(2.6 * len(panels), 3.0 * len(windows)), squeeze=False)
    for row, window in enumerate(windows):
        for ax, (name, img, psnr) in zip(axes[row], panels):
            ax.imshow(img[window], interpolation="nearest")
            if row == 0:
                ax.set_title(name if psnr is None else f"{name}\n{psnr:.2f} dB", fontsize=9)
            ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
