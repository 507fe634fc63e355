"""bench/peers/score_vectorised.py's ``run`` with ``@batched``: one ``predict`` for every request of a batch.

Served by ``mldeploy serve`` in ``bench/oip_batching_vs_peers.py``; the knobs come from the
environment so that the benchmark can match them to BentoML's and MLServer's.
"""

import os

from score_vectorised import init  # noqa: F401 - init is the entry script's
from score_vectorised import run as vectorised_run

from jupyter_mldeploy import batched

run = batched(max_batch_size=int(os.environ.get("BENCH_MAX_BATCH", "64")),
              max_latency_ms=float(os.environ.get("BENCH_MAX_LATENCY_MS", "5")))(vectorised_run)
