"""One training at a time in a run folder: an advisory lock the system drops with its holder.

`fcntl.flock` is released by the kernel when the holding process ends, however it ends, so a
killed run never leaves a stale lock; the holder's pid is written into the lock file so that
a refused run can name it.
"""
import fcntl
import os

from gluon_sr.utils.errors import GluonSRError

LOCK_FILE = ".lock"


class RunLock:
    def __init__(self, run_dir, name):
        self.path = os.path.join(run_dir, LOCK_FILE)
        self.name = name
        self.file = None

    def __enter__(self):
        self.file = open(self.path, "a+")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read().strip() or "unknown"
            self.file.close()
            raise GluonSRError(f"run {self.name} ({os.path.dirname(self.path)}) is being "
                               f"trained by another process (pid {holder}); wait for it or "
                               "choose another --name / --run-dir")
        self.file.seek(0)
        self.file.truncate()
        self.file.write(str(os.getpid()))
        self.file.flush()
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()
        return False
