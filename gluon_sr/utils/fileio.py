"""Atomic file writes: a crash or a full disk never leaves a half-written output.

Temporary files are named `.tmp-PID-...` beside their target; one left behind by a killed
process is removed the next time any process writes into that folder.
"""
import contextlib
import hashlib
import json
import os
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


_swept = set()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # someone else's live process
        return True
    return True


def remove_stale_temporaries(folder):
    """Delete `.tmp-PID-*` files in `folder` whose writing process no longer exists."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        parts = name.split("-", 2)
        if len(parts) == 3 and parts[0] == ".tmp" and parts[1].isdigit() \
                and not _alive(int(parts[1])):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside `path`; on success it is renamed over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in _swept:            # once per folder and process
        _swept.add(folder)
        remove_stale_temporaries(folder)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{os.getpid()}-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def writing(path):
    """Turn a failed write of `path` (full disk, read-only folder...) into a GluonSRError."""
    from gluon_sr.utils.errors import GluonSRError, describe

    try:
        yield
    except GluonSRError:
        raise
    except OSError as e:
        raise GluonSRError(f"{path}: cannot write ({e.strerror or e})")
    except Exception as e:  # MXNet reports failed saves as MXNetError with a C++ trace
        raise GluonSRError(f"{path}: cannot write ({describe(e)})")


def atomic_write_json(path, obj):
    with writing(path), atomic_path(path, ".json") as tmp:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")


def atomic_nd_save(path, data):
    import mxnet as mx

    with writing(path), atomic_path(path, ".params") as tmp:
        mx.nd.save(tmp, data)


def output_folder(path):
    """Create folder `path` if needed and check that it can be written to."""
    from gluon_sr.utils.errors import GluonSRError

    if os.path.exists(path) and not os.path.isdir(path):
        raise GluonSRError(f"{path}: exists and is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise GluonSRError(f"{path}: cannot create folder ({e.strerror or e})")
    if not os.access(path, os.W_OK | os.X_OK):
        raise GluonSRError(f"{path}: folder is not writable")
    return path


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
