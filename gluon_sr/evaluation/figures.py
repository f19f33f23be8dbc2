"""Comparison figures: the same crop of every method's output side by side, with Y-PSNR."""
import numpy as np

from gluon_sr.evaluation.metrics import score


def detail_crop(hr, size):
    """Top-left corner of the size x size window with the most edge energy (the telling part)."""
    y = hr.astype(np.float64).mean(axis=2)
    energy = np.abs(np.diff(y, axis=0))[:, :-1] + np.abs(np.diff(y, axis=1))[:-1]
    size = min(size, energy.shape[0], energy.shape[1])
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = (integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size]
            + integral[:-size, :-size])
    top, left = np.unravel_index(np.argmax(sums), sums.shape)
    return int(top), int(left), size


def comparison_figure(path, title, hr, lr, outputs, scale, crop=96):
    """LR (nearest) / each method / HR, zoomed on the most detailed crop, with Y-PSNR labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gluon_sr.utils.fileio import atomic_path

    top, left, size = detail_crop(hr, crop)
    window = (slice(top, top + size), slice(left, left + size))
    lr_up = np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)
    panels = [("LR (nearest)", lr_up, None)] + [
        (name, img, score(img, hr, scale, False)["psnr"]) for name, img in outputs.items()
    ] + [("HR", hr, None)]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 3.0))
    for ax, (name, img, psnr) in zip(axes, panels):
        ax.imshow(img[window], interpolation="nearest")
        ax.set_title(name if psnr is None else f"{name}\n{psnr:.2f} dB", fontsize=9)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
