"""A bounded worker for the web app: one job at a time on the CPU, a short queue, models kept.

Two requests running networks at once on a small CPU slow each other (OpenMP threads fight
for the cores), so one worker thread runs every job in turn; `capacity` jobs may wait. A
request that finds the queue full is told to come back later (HTTP 503 with Retry-After).
"""
import concurrent.futures
import threading

from gluon_sr.utils.errors import GluonSRError


class QueueFull(Exception):
    """More jobs are waiting than the queue holds."""


class JobRunner:
    def __init__(self, capacity=4):
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                              thread_name_prefix="gluon-sr-job")
        self.slots = threading.BoundedSemaphore(capacity + 1)    # waiting + running
        self.processors = {}
        self.lock = threading.Lock()

    def processor(self, key, make):
        """The processor (Upscaler, Stylizer) for `key`, made once and kept (models stay
        loaded between requests). Call it inside a job, so loading runs on the worker too."""
        with self.lock:
            if key not in self.processors:
                self.processors[key] = make()
            return self.processors[key]

    def run(self, job, timeout=600):
        """Run `job()` on the worker; its result, or its GluonSRError. QueueFull when full."""
        if not self.slots.acquire(blocking=False):
            raise QueueFull()
        try:
            return self.executor.submit(job).result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise GluonSRError(f"the job took longer than {timeout} s")
        finally:
            self.slots.release()

    def shutdown(self):
        self.executor.shutdown(wait=False, cancel_futures=True)
