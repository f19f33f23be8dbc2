"""The learning-rate schedule: optional linear warm-up, then a gluon-cv schedule to lr_final."""

# Step mode decays at these fractions of the whole run (warm-up included).
STEP_MILESTONES = (0.5, 0.75)


def make_schedule(steps, lr, mode="cosine", lr_final=0.01, warmup=0):
    """lr as a function of the step: warm-up from lr/1000 to lr, then `mode` down to
    lr * lr_final at the last step. In step mode the lr falls by the same factor at each
    milestone and reaches lr * lr_final after the last one; constant mode keeps lr."""
    from gluoncv.utils import LRScheduler, LRSequential

    parts = []
    if warmup > 0:
        parts.append(LRScheduler("linear", base_lr=lr * 1e-3, target_lr=lr, niters=warmup))
    # LRSequential offsets each part by the steps before it, so the milestones are given
    # counted from the end of the warm-up.
    milestones = [max(1, int(steps * f) - warmup) for f in STEP_MILESTONES]
    parts.append(LRScheduler(mode, base_lr=lr, target_lr=lr * lr_final,
                             niters=max(2, steps - warmup), step_iter=milestones,
                             step_factor=lr_final ** (1 / len(milestones))))
    return LRSequential(parts)
