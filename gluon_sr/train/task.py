"""The interface between the training loop and a task (super-resolution, style transfer, ...).

The loop (loop.py) owns what every run has: devices, optimiser, schedule, resume, logs,
checkpoints, the final save. A task owns what is specific to it: data, network, loss,
validation and the description saved with the model. Tasks are listed in tasks.py.
"""
from typing import Iterator, List, Optional, Protocol, Tuple


class Task(Protocol):
    # Class attributes: the task's option dataclass, and the loop settings (TrainConfig
    # fields) of its recommended recipe, which override TrainConfig's generic defaults.
    Options: type
    recipe: dict

    # Set by the constructor, Task(cfg, ctx): the network being trained (initialised by the
    # loop) and a sha256 that identifies the training data, checked on resume.
    net: object
    data_hash: str

    def batches(self, start_step: int, batch_size: int, part: int = 0,
                num_parts: int = 1) -> Iterator:
        """This worker's batches from `start_step` on (`batch_size` samples each), the same
        sequence whether or not the run was interrupted."""

    def losses(self, batch, net, ctx: list) -> List[Tuple[object, dict]]:
        """Called inside autograd.record: one (per-sample total loss, {part name: per-sample
        weighted loss}) pair per device in `ctx`, after split_and_load of `batch`."""

    def validate(self, net, step: int, ctx) -> Optional[dict]:
        """A log record of held-out measurements (with a 'message' for the console), or None
        when the run has no validation data."""

    def meta(self) -> dict:
        """What the model's sidecar records beyond the loop's settings (task, data, metrics)."""
