"""The tables `evaluate` prints: PSNR / SSIM per set, then LPIPS, NIQE, periodic texture and
VGG feature distance when measured."""
import numpy as np


def print_table(results):
    sets = list(results["sets"])
    header = f"{'x' + str(results['scale']):<22}" + "".join(f"{s:>18}" for s in sets) + f"{'s/MP':>8}"
    print(header)
    print("-" * len(header))
    methods = [m for m in next(iter(results["sets"].values())) if m != "HR"]
    for method in methods:
        cells = []
        for s in sets:
            m = results["sets"][s][method]["mean"]
            cells.append(f"{m['psnr']:.2f}" + (f" / {m['ssim']:.4f}" if m["ssim"] is not None else ""))
        speed = np.mean([results["sets"][s][method]["s_per_mp"] for s in sets])
        print(f"{method:<22}" + "".join(f"{c:>18}" for c in cells) + f"{speed:>8.2f}")
    for method, row in results["published"].items():
        cells = [f"{row[s][0]:.2f} / {row[s][1]:.4f}" if s in row else "-" for s in sets]
        print(f"{method + ' (quoted)':<22}" + "".join(f"{c:>18}" for c in cells))
    for key, title in (("lpips", "LPIPS to HR (lower is closer)"),
                       ("niqe", "NIQE, no reference (lower is more natural)"),
                       ("grid", f"Periodic texture at {results['scale']} px (HR about 2; a "
                                "dotted grid 10 and more)")):
        if key not in next(iter(results["sets"].values()))["bicubic"]["mean"]:
            continue
        print(f"\n{title}")
        for method in methods + (["HR"] if key in ("niqe", "grid") else []):
            cells = [f"{results['sets'][s][method]['mean'][key]:.4f}" for s in sets]
            print(f"{method:<22}" + "".join(f"{c:>18}" for c in cells))
    if results.get("feature_distance"):
        layers = results["feature_distance"]["layers"]
        print(f"\nVGG16 feature distance to HR ({' / '.join(layers)}; lower is closer)")
        for method in methods:
            cells = [" / ".join(f"{results['sets'][s][method]['mean'][layer]:.0f}"
                                for layer in layers) for s in sets]
            print(f"{method:<22}" + "".join(f"{c:>18}" for c in cells))
