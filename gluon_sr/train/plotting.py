"""Training curves from the JSONL log, as a PNG a person can look at."""
import json
import os

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


def read_stages(log_paths):
    """The records of several runs' logs as one, each run's steps counted on from the last step
    of the run before (a recipe's stages each start again at step 0; a stage that resumes the
    run before goes on with its count and keeps its steps), and the steps at which the later
    runs begin."""
    records, starts, offset = [], [], 0
    for path in log_paths:
        run = [r for r in read_log(path) if "step" in r]
        if records:
            starts.append(offset)
        shift = offset if run and run[0]["step"] <= offset else 0
        records += [{**r, "step": r["step"] + shift} for r in run]
        offset = max((r["step"] for r in records), default=offset)
    return records, starts


def plot_training_curves(log_paths, png_path, title=""):
    """Curves of one run's log, or of several (a recipe's stages, in order) end to end."""
    records, starts = read_stages([log_paths] if isinstance(log_paths, str) else log_paths)
    train = [r for r in records if "loss" in r]
    val = [r for r in records if "val_psnr" in r]
    adversarial = [r for r in train if "d_loss" in r]
    panels = 1 + bool(val) + bool(adversarial)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
    ax = axes[0, 0]
    if train:
        steps = [r["step"] for r in train]
        ax.plot(steps, [r["loss"] for r in train], label="total", color="k")
        # Each term where it was on (stages may add or drop terms; a log scale has no 0).
        for key in ("feat", "pix", "tv", "grid", "style", "content", "identity", "gram",
                    "teacher", "gan", "fm"):
            on = [r for r in train if r.get(key, 0) > 0]
            if on:
                ax.plot([r["step"] for r in on], [r[key] for r in on], label=key, alpha=0.7)
        for key in ("content", "style", "identity", "gram", "teacher"):    # style runs' held-out
            on = [r for r in records if r.get(f"val_{key}", 0) > 0]
            if on:
                ax.plot([r["step"] for r in on], [r[f"val_{key}"] for r in on], "o--",
                        label=f"held-out {key}")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("weighted loss (training: mean over log interval)")
        ax.legend()
        ax.grid(alpha=0.3)
    if val:
        ax = axes[0, 1]
        steps = [r["step"] for r in val]
        ax.plot(steps, [r["val_psnr"] for r in val], "o-", label="model")
        ax.plot(steps, [r["bicubic_psnr"] for r in val], "--", color="gray", label="bicubic")
        ax.set_xlabel("step")
        ax.set_ylabel("validation Y-PSNR (dB)")
        ax.legend(loc="upper left")
        ax.grid(alpha=0.3)
        if "val_lpips" in val[0]:
            twin = ax.twinx()
            twin.plot(steps, [r["val_lpips"] for r in val], "s-", color="tab:red",
                      label="LPIPS (right)")
            twin.set_ylabel("validation LPIPS (lower is closer)")
            twin.legend(loc="upper right")
    if adversarial:
        # A healthy GAN keeps D's loss away from 0 and D(real) above D(fake) without the
        # gap running away.
        ax = axes[0, -1]
        steps = [r["step"] for r in adversarial]
        ax.plot(steps, [r["d_loss"] for r in adversarial], color="k", label="D loss")
        ax.plot(steps, [r["d_real"] for r in adversarial], label="D(real), mean logit")
        ax.plot(steps, [r["d_fake"] for r in adversarial], label="D(fake), mean logit")
        ax.set_xlabel("step")
        ax.legend()
        ax.grid(alpha=0.3)
    for ax in axes[0]:
        for number, step in enumerate(starts, start=2):
            ax.axvline(step, color="gray", linestyle=":")
            ax.text(step, 1, f" stage {number}", transform=ax.get_xaxis_transform(),
                    va="top", fontsize=8, color="gray")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(png_path, ".png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def main(argv=None):
    from gluon_sr.utils.errors import ArgumentParser, GluonSRError

    p = ArgumentParser(description="training curves of one run, or of a recipe's stages end "
                       "to end")
    p.add_argument("logs", nargs="+", help="log.jsonl of each run, in order")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--title", default="")
    args = p.parse_args(argv)
    missing = [path for path in args.logs if not os.path.isfile(path)]
    if missing:
        raise GluonSRError(f"no such log: {', '.join(missing)}")
    plot_training_curves(args.logs, args.out, args.title)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    from gluon_sr.utils.errors import run_cli

    run_cli(main)
