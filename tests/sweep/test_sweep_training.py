"""A real (tiny) training sweep: validation-only inner folds, per-epoch pruning reports, and an
MLflow parent run with one child per trial tagged mlflow.parentRunId."""

from __future__ import annotations

import textwrap

import optuna
import pytest
from mlflow.tracking import MlflowClient

from bench.models.registry import unregister_model
from bench.sweep.driver import sweep
from bench.sweep.objective import inner_fold_ids
from bench.sweep.storage import open_storage
from bench.train import loop
from tests.support.toy import build_toy_store, register_toy_model


@pytest.fixture
def toy_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    store = build_toy_store(tmp_path / "store", speakers=6, num_frames=4, image_size=16, n_mels=16, audio_steps=20)
    register_toy_model("toy_sweep_model")
    study = tmp_path / "sweep.toml"
    study.write_text(textwrap.dedent(
        """
        [study]
        kind = "sweep"
        name = "toy-training"
        model = "toy_sweep_model"
        inner_folds = 2

        [overrides.toy_sweep_model]
        "train.epochs" = 2
        "train.batch_size" = 8

        [space.lr]
        type = "float"
        low = 1e-4
        high = 1e-1
        log = true
        target = "train.lr"
        """
    ))
    yield store, study, tmp_path
    unregister_model("toy_sweep_model")


def test_inner_folds_exclude_test_speakers(toy_setup):
    store, _, _ = toy_setup
    speakers = store.manifest.speakers
    folds = inner_fold_ids(store.manifest, {speakers[0]}, k=2)
    frame = store.manifest.frame.set_index("clip_id")
    for fold in folds:
        used = set(frame.loc[fold["train"] + fold["val"], "speaker"])
        assert speakers[0] not in used and fold["test"] == []
        assert not set(frame.loc[fold["train"], "speaker"]) & set(frame.loc[fold["val"], "speaker"])


def test_training_sweep_tracks_trials_and_never_scores_test(toy_setup, monkeypatch):
    store, study, tmp_path = toy_setup
    parts_seen = []
    original = loop.fit_fold

    def spy(*args, **kwargs):
        parts_seen.append({k: len(v) for k, v in args[4].items()})
        result = original(*args, **kwargs)
        assert result.test == {}
        return result

    monkeypatch.setattr(loop, "fit_fold", spy)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = sweep(study, trials=3, storage=f"journal:{tmp_path / 'j.journal'}", tracking_uri=uri,
                   extra={"store": str(store.root)}, out=tmp_path / "best.toml", study_name="toy-training")
    assert result.n_complete + result.n_pruned == 3
    assert all(p["test"] == 0 for p in parts_seen) and len(parts_seen) >= 2

    trials = optuna.load_study(study_name="toy-training", storage=open_storage(f"journal:{tmp_path / 'j.journal'}")).trials
    assert all(t.intermediate_values for t in trials)  # per-epoch validation scores fed the pruner
    client = MlflowClient(uri)
    parent = client.get_run(result.parent_run_id)
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'")
    assert len(children) == 3
    assert {c.data.tags["optuna.trial"] for c in children} == {"0", "1", "2"}
    assert parent.data.metrics["trials_complete"] + parent.data.metrics["trials_pruned"] == 3
    assert result.best_config_path.exists()


def test_a_metric_the_task_does_not_produce_fails_before_any_trial(toy_setup, monkeypatch):
    """A sweep study whose [study] metric the model's task does not produce (ccc_mean for the
    toy's classes: a study written for Aff-Wild2 run on a categorical corpus) is a ConfigError
    naming the study file and the task's metrics, not a budget of failed trials."""
    from bench.errors import ConfigError

    store, study, tmp_path = toy_setup
    study.write_text(study.read_text().replace('inner_folds = 2', 'inner_folds = 2\nmetric = "ccc_mean"'))
    trained = []
    monkeypatch.setattr(loop, "fit_fold", lambda *a, **k: trained.append(1))
    with pytest.raises(ConfigError, match=r"sweep\.toml: \[study\] metric: selection metric 'ccc_mean' is a regression metric.*uar"):
        sweep(study, trials=2, storage=f"journal:{tmp_path / 'j.journal'}", extra={"store": str(store.root), "track": False},
              out=tmp_path / "best.toml", study_name="toy-metric")
    assert trained == []
