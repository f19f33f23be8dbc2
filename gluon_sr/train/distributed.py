"""ps-lite plumbing for distributed training (jobs started by gluon_sr.train.launch)."""
import hashlib
import os

import numpy as np

from gluon_sr.utils.errors import GluonSRError


def open_kvstore(kind):
    """(kvstore, rank, number of workers): a ps-lite kvstore joined now for dist_* kinds,
    else the kind's name, which the Trainer turns into a kvstore for this machine's devices."""
    if not kind.startswith("dist"):
        return kind, 0, 1
    if "DMLC_ROLE" not in os.environ:
        raise GluonSRError(f"--kvstore {kind} runs inside a ps-lite job; start it with "
                           "python -m gluon_sr.train.launch -n WORKERS -- python train.py ...")
    import mxnet as mx

    kv = mx.kv.create(kind)
    return kv, kv.rank, kv.num_workers


def parameter_checksum(net):
    """sha256 over every parameter's bytes: equal on all workers of a healthy sync job."""
    digest = hashlib.sha256()
    for name, p in sorted(net.collect_params().items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(p.data().asnumpy()).tobytes())
    return digest.hexdigest()


def settle_initial_weights(trainer):
    """Distributed: take rank 0's weights from the kvstore and wait for them to arrive.

    Trainer.step would issue that pull and the first gradient push together; ps-lite can then
    serve a slow worker's pull after the servers have replaced the stored weights with the
    summed gradients (update_on_kvstore=False keeps one value per key), which leaves that
    worker training from a gradient (seen here in about one run in four). Needs materialised
    parameters: call after the first forward pass. MXNet 1.9's Trainer has no public call
    that initialises its kvstore and parameters without also pushing gradients, hence the
    two private methods (the same ones Trainer.step calls first).
    """
    import mxnet as mx

    trainer._init_kvstore()
    trainer._init_params()
    mx.nd.waitall()
