"""A ``bench.experiment.run`` in its own process, slow enough to be killed mid-fold.

    python -m tests.support.slow_run STORE_DIR [SLEEP_PER_STEP]

Trains the toy model (2 folds, 3 epochs) on a toy store, tracked to ``$BENCH_HOME``'s SQLite
file, with ``SLEEP_PER_STEP`` seconds of sleep per training step so a test can send SIGTERM
or SIGKILL while the second fold trains. Prints ``FOLD-DONE <fold>`` when a fold finishes.
"""

from __future__ import annotations

import sys
import time

from bench.data.store import FeatureStore
from bench.experiment import run
from tests.support.console import MarkerConsole
from tests.support.toy import ToyModel, register_toy_model, toy_scheme


def main(store_dir: str, sleep: float = 0.0) -> None:
    if sleep:
        forward = ToyModel.forward

        def slow_forward(self, batch):
            if self.training:
                time.sleep(sleep)
            return forward(self, batch)

        ToyModel.forward = slow_forward
    register_toy_model("toy", recipe={"epochs": 3, "batch_size": 8, "lr": 1e-2})
    store = FeatureStore.open(store_dir)

    run("toy", store=store, split=toy_scheme(store, 2), seeds=(0,), progress=False, track=True,
        experiment_name="kill-test", console=MarkerConsole("FOLD-DONE"))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
