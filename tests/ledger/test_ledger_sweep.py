"""A sweep's trials are ledger records: a tuning stopped on one machine replays on another,
proposing the same configurations, pruning the same trials and choosing the same best one,
without training."""

from __future__ import annotations

import textwrap

import optuna
import pytest

from bench.ledger import Ledger
from bench.models.registry import unregister_model
from bench.sweep.driver import sweep
from bench.sweep.storage import open_storage
from bench.train import loop
from tests.support.toy import build_toy_store, register_toy_model


@pytest.fixture
def toy_sweep(tmp_path, monkeypatch):
    store = build_toy_store(tmp_path / "store", speakers=6, num_frames=4, image_size=16, n_mels=16, audio_steps=20)
    register_toy_model("toy_ledger_sweep")
    study = tmp_path / "sweep.toml"
    study.write_text(textwrap.dedent(
        """
        [study]
        kind = "sweep"
        name = "toy-ledger"
        model = "toy_ledger_sweep"
        inner_folds = 2

        [overrides.toy_ledger_sweep]
        "train.epochs" = 3
        "train.batch_size" = 8

        [space.lr]
        type = "float"
        low = 1e-6
        high = 1.0
        log = true
        target = "train.lr"
        """
    ))
    monkeypatch.setenv("BENCH_LEDGER", str(tmp_path / "results"))

    def on_machine(name: str):
        monkeypatch.setenv("BENCH_HOME", str(tmp_path / name))  # its own Optuna journal and MLflow
        journal = f"journal:{tmp_path / name / 'optuna.journal'}"
        result = sweep(study, trials=8, storage=journal, extra={"store": str(store.root), "track": False},
                       out=tmp_path / name / "best.toml", study_name="toy-ledger")
        trials = optuna.load_study(study_name="toy-ledger", storage=open_storage(journal)).trials
        return result, [(t.state.name, t.params, t.value, dict(t.intermediate_values)) for t in trials]

    yield on_machine, tmp_path
    unregister_model("toy_ledger_sweep")


@pytest.mark.slow
def test_a_sweep_replays_from_its_trial_records_on_a_fresh_machine(toy_sweep, monkeypatch):
    on_machine, tmp_path = toy_sweep
    calls = []
    original = loop.fit_fold
    monkeypatch.setattr(loop, "fit_fold", lambda *a, **k: calls.append(1) or original(*a, **k))
    first, trials = on_machine("machine1")
    assert calls, "the first machine trains"
    records, errors = Ledger(tmp_path / "results").records()
    assert errors == [] and {r.job["tuning"] for r in records} == {"trial"}
    assert all(r.job["outer_fold"] and r.result["test"] == {} for r in records)  # never a test score

    def no_training(*args, **kwargs):
        raise AssertionError("a replayed sweep must not train")

    monkeypatch.setattr(loop, "fit_fold", no_training)
    second, replayed = on_machine("machine2")
    assert replayed == trials  # the same proposals, prunings, curves and values
    assert (second.best_params, second.best_value) == (first.best_params, first.best_value)
    best = (tmp_path / "machine2" / "best.toml").read_text().replace("machine2", "machine1")
    assert best == (tmp_path / "machine1" / "best.toml").read_text()
    assert {state for state, *_ in trials} == {"COMPLETE", "PRUNED"}, "both kinds of record replayed"
