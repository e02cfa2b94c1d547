"""MLflow: a parent run per experiment, a child per fold x seed, failures marked FAILED."""

from dataclasses import dataclass

import pytest
from mlflow.tracking import MlflowClient

from bench.experiment import run
from bench.models.registry import register_model, unregister_model
from bench.tracking.runs import flatten
from tests.support.toy import ToyConfig, ToyModel, build_toy_store, toy_scheme


@dataclass
class _NanConfig(ToyConfig):
    poison_speaker: str = "00"  # training on this speaker's clips makes the loss NaN


class _NanOnSpeaker(ToyModel):
    def forward(self, batch):
        output = super().forward(batch)
        if self.training and any(c.startswith(f"s{self.config.poison_speaker}_") for c in batch["clip_id"]):
            output.logits["fused"] = output.logits["fused"] * float("nan")
        return output


@pytest.fixture
def tracked(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    register_model("toy_nan_track", _NanConfig, recipe={"epochs": 2, "batch_size": 32})(_NanOnSpeaker)
    store = build_toy_store(tmp_path / "store", num_frames=4, image_size=16, n_mels=16, audio_steps=20)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    # fold1 tests speaker 0 (finishes), fold2 trains on speaker 0 (NaN)
    result = run("toy_nan_track", store=store, split=toy_scheme(store, 2), tracking_uri=uri, progress=False,
                 experiment_name="test-exp")
    yield result, MlflowClient(tracking_uri=uri), tmp_path
    unregister_model("toy_nan_track")


def test_parent_and_children(tracked):
    result, client, tmp_path = tracked
    experiment = client.get_experiment_by_name("test-exp")
    assert experiment.artifact_location.startswith((tmp_path / "home" / "mlartifacts").as_uri())
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.params["train.batch_size"] == "32" and "model.hidden" in parent.data.params
    assert parent.data.tags["split_checksum"] == result.split_checksum and parent.data.tags["store_key"] == result.store_key
    assert parent.data.tags["env.torch"] and parent.data.tags["env.python"]
    assert parent.data.metrics["folds_finished"] == 1 and parent.data.metrics["folds_failed"] == 1
    assert parent.data.metrics["uar_mean"] == pytest.approx(result.aggregates["uar"]["mean"])
    parent_artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"config.json", "config.toml", "environment.json", "results.csv"} <= parent_artifacts

    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    by_fold = {c.data.tags["fold"]: c for c in children}
    assert set(by_fold) == {"fold1", "fold2"}
    done, failed = by_fold["fold1"], by_fold["fold2"]
    assert done.info.status == "FINISHED" and failed.info.status == "FAILED"
    assert "loss became NaN at epoch 1" in failed.data.tags["error"]
    assert done.data.metrics["test_uar"] == pytest.approx(result.fold_results[0].test["uar"])
    curve = client.get_metric_history(done.info.run_id, "train_loss")
    assert sorted(m.step for m in curve) == [1, 2]
    artifacts = {a.path for a in client.list_artifacts(done.info.run_id)}
    assert {"predictions.csv", "history.csv", "confusion.png"} <= artifacts


def test_flatten():
    assert flatten({"model": {"a": 1, "b": {"c": 2}}, "x": 3}) == {"model.a": 1, "model.b.c": 2, "x": 3}
