"""Logging for the command-line tools: plain messages on stdout, warnings marked as such.

Library code logs through `logging.getLogger(__name__)`; the CLIs call `setup_logging()`. In a
distributed job `for_rank` wraps a logger so that only rank 0 reports routine progress (it
speaks for the job) while every worker's warnings still reach the console, tagged with its rank.
"""
import logging
import sys


class _Formatter(logging.Formatter):
    def format(self, record):
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        return message


def setup_logging(level=logging.INFO):
    """Send the package's log records to stdout, once per process."""
    root = logging.getLogger("gluon_sr")
    if not any(isinstance(h.formatter, _Formatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_Formatter())
        root.addHandler(handler)
    root.setLevel(level)
    # Libraries that call logging.basicConfig (MXNet's quantisation does) would print every
    # message a second time through the root logger.
    root.propagate = False
    return root


class RankLogger(logging.LoggerAdapter):
    """A logger for one worker of a distributed job (see the module docstring)."""

    def __init__(self, logger, rank, num_workers):
        super().__init__(logger, {})
        self.rank, self.num_workers = rank, num_workers

    def log(self, level, msg, *args, every_rank=False, **kwargs):
        if self.rank and level < logging.WARNING and not every_rank:
            return
        if self.num_workers > 1:
            msg = f"[rank {self.rank}/{self.num_workers}] {msg}"
        self.logger.log(level, msg, *args, **kwargs)
