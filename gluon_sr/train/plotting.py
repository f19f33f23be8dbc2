"""Training curves from the JSONL log, as a PNG a person can look at."""
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gluon_sr.utils.fileio import atomic_path  # noqa: E402


def read_log(path):
    """The records of a JSONL log. A line that does not parse (the last one, torn by a kill
    in mid-write) is left out."""
    records = []
    with open(path) as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def plot_training_curves(log_path, png_path, title=""):
    records = read_log(log_path)
    train = [r for r in records if "loss" in r]
    val = [r for r in records if "val_psnr" in r]
    fig, axes = plt.subplots(1, 2 if val else 1, figsize=(11 if val else 6, 4), squeeze=False)
    ax = axes[0, 0]
    if train:
        steps = [r["step"] for r in train]
        ax.plot(steps, [r["loss"] for r in train], label="total", color="k")
        for key in ("feat", "pix", "tv", "style", "content"):
            if key in train[0] and any(r[key] for r in train):
                ax.plot(steps, [r[key] for r in train], label=key, alpha=0.7)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("weighted loss (mean over log interval)")
        ax.legend()
        ax.grid(alpha=0.3)
    if val:
        ax = axes[0, 1]
        steps = [r["step"] for r in val]
        ax.plot(steps, [r["val_psnr"] for r in val], "o-", label="model")
        ax.plot(steps, [r["bicubic_psnr"] for r in val], "--", color="gray", label="bicubic")
        ax.set_xlabel("step")
        ax.set_ylabel("validation Y-PSNR (dB)")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(png_path, ".png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
