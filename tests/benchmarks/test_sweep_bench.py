"""Sweep benchmark on one real study: DE-III (synthetic CPU preset) on a small synthetic corpus.

Measured in one run (``--benchmark-enable``):

* compute saved by pruning: the same trial budget with the median pruner and without it;
  compute = epochs actually trained (every epoch reports one validation score), and wall time;
* throughput: trials per hour with 2 local worker processes against 1 (journal storage), on
  the same budget with pruning off so that both do the same work per trial.

Without ``--benchmark-enable`` a 2-trial sweep runs once as a check. Run:
``python -m pytest -q -s -p no:cacheprovider tests/benchmarks/test_sweep_bench.py --benchmark-enable``.
"""

from __future__ import annotations

import textwrap

import optuna
import pytest

from bench.sweep.driver import sweep
from bench.sweep.storage import open_storage

TRIALS = 8
EPOCHS = 6


@pytest.fixture(scope="module")
def study_file(tmp_path_factory):
    from bench.data.synth import SynthConfig, generate_corpus

    base = tmp_path_factory.mktemp("sweep_bench")
    corpus = generate_corpus(base / "corpus", SynthConfig(actors=4, clips_per_class=2, duration_s=1.2), progress=False)
    path = base / "sweep.toml"
    path.write_text(textwrap.dedent(
        f"""
        [study]
        kind = "sweep"
        name = "bench-sweep"
        model = "deiii"
        dataset = "synthetic"
        root = "{corpus}"
        inner_folds = 2
        [overrides.deiii]
        "train.epochs" = {EPOCHS}
        [space.lr]
        type = "float"
        low = 1e-5
        high = 3e-2
        log = true
        target = "train.lr"
        [space.dropout]
        type = "float"
        low = 0.0
        high = 0.5
        target = "dropout"
        """
    ))
    return path


def _epochs(name: str, storage: str) -> int:
    trials = optuna.load_study(study_name=name, storage=open_storage(storage)).trials
    return sum(len(t.intermediate_values) for t in trials)


@pytest.mark.benchmark
def test_pruning_and_workers(benchmark, study_file, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    journal = f"journal:{tmp_path / 'sweep.journal'}"

    def run(name, trials, pruning, workers=1):
        return sweep(study_file, trials=trials, workers=workers, pruning=pruning, storage=journal, study_name=name,
                     out=tmp_path / f"{name}.toml", extra={"track": False})

    if benchmark.disabled:
        result = run("check", 2, True)
        assert result.n_complete + result.n_pruned == 2 and result.best_config_path.exists()
        benchmark.pedantic(lambda: None, rounds=1, iterations=1)
        return

    run("warm-up", 1, False)  # prepares the feature store once, outside the timings
    pruned = run("pruned", TRIALS, True)
    full = run("unpruned", TRIALS, False)
    epochs_pruned, epochs_full = _epochs("pruned", journal), _epochs("unpruned", journal)
    one = run("one-worker", TRIALS, False, workers=1)
    two = run("two-workers", TRIALS, False, workers=2)
    info = {
        "trials": TRIALS,
        "epochs_pruned": epochs_pruned,
        "epochs_unpruned": epochs_full,
        "compute_saved": round(1 - epochs_pruned / epochs_full, 3),
        "wall_pruned_s": round(pruned.seconds, 1),
        "wall_unpruned_s": round(full.seconds, 1),
        "pruned_trials": pruned.n_pruned,
        "trials_per_hour_1w": round(one.trials_per_hour, 1),
        "trials_per_hour_2w": round(two.trials_per_hour, 1),
        "speedup_2w": round(two.trials_per_hour / one.trials_per_hour, 2),
    }
    benchmark.extra_info.update(info)
    print("\nsweep benchmark:", info)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    assert epochs_pruned < epochs_full, info
    assert two.trials_per_hour > one.trials_per_hour, info
