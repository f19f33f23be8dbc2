"""Atomic file writes: a crash or a full disk never leaves a half-written output."""
import contextlib
import hashlib
import json
import os
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside `path`; on success it is renamed over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_json(path, obj):
    with atomic_path(path, ".json") as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")


def atomic_nd_save(path, data):
    import mxnet as mx

    with atomic_path(path, ".params") as tmp:
        mx.nd.save(tmp, data)


def sha256_file(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def read_json_if_exists(path, what):
    """Parsed JSON at `path`, None if there is no file; a damaged file is a GluonSRError."""
    from gluon_sr.utils.errors import GluonSRError

    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise GluonSRError(f"{path}: unreadable {what} ({e})")
