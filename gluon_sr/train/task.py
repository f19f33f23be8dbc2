"""The interface between the training loop and a task (super-resolution, style transfer, ...).

The loop (loop.py) owns what every run has: devices, optimiser, schedule, resume, logs,
checkpoints, the final save. A task owns what is specific to it: data, network, loss,
validation and the description saved with the model. Tasks are listed in tasks.py.

A task with more than one network (a GAN's discriminator, an EMA copy of the generator) keeps
them itself and updates them in `auxiliary_step`; `TaskDefaults` gives the single-network
tasks the trivial versions of those hooks.
"""
from typing import Callable, Dict, Iterator, List, Optional, Protocol, Tuple


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

    def trains_net(self, step: int) -> bool:
        """Whether the loop updates `net` at this step (False while a GAN's discriminator
        warms up against the fixed generator)."""

    def auxiliary_step(self, step: int, batch_size: int) -> dict:
        """After the loop's update of `net`: update the task's other networks from what the
        last `losses` call computed. Returns {name: per-sample values} for the log."""

    def checkpoint_files(self) -> Dict[str, Tuple[Callable, Callable]]:
        """{file suffix: (save(path), load(path))} for state beyond `net` and its trainer,
        written into and verified with every checkpoint."""

    def final_net(self, net):
        """The network to save as the model (`net`, or e.g. its exponential moving average)."""

    def example_input(self, ctx):
        """An input for one forward pass of the saved net (a hybridized net exports after
        one): a small image, or what the net takes instead."""


class TaskDefaults:
    """The hooks above for tasks that train one network and nothing else."""

    def trains_net(self, step):
        return True

    def auxiliary_step(self, step, batch_size):
        return {}

    def checkpoint_files(self):
        return {}

    def final_net(self, net):
        return net

    def example_input(self, ctx):
        import mxnet as mx

        return mx.nd.zeros((1, 3, 16, 16), ctx=ctx)
