"""Nested tuning (``bench sweep --nested``): one study per outer fold, tuned only on that fold's
non-test speakers; one configuration per fold that ``bench run --config`` applies fold by fold;
the study -> outer fold -> trial MLflow hierarchy; resuming; and the warning (and tags) for a
single-fold sweep's configuration applied to folds whose test speakers its tuning saw."""

from __future__ import annotations

import math
import textwrap
from types import SimpleNamespace

import optuna
import pytest
import tomli_w
from mlflow.tracking import MlflowClient

from bench.config import load_toml
from bench.errors import ConfigError
from bench.experiment import run
from bench.models.registry import unregister_model
from bench.splits import get_scheme
from bench.splits.scheme import norm_id
from bench.studies.loader import load_study
from bench.study.executors import SerialExecutor
from bench.study.resolve import nested_layer
from bench.sweep import driver
from bench.sweep.driver import SweepSettings, outer_study_name, sweep, worker_loop
from bench.sweep.storage import open_storage
from bench.train import loop
from bench.train.result import FoldResult
from tests.support.console import LineConsole as RecordingConsole
from tests.support.toy import build_toy_store, register_toy_model

MODEL = "toy_nested_model"
TRIALS = 2
TOY = "bench.sweep.driver:StorageCheckObjective"
STUDY = """
    [study]
    kind = "sweep"
    name = "toy-nested"
    model = "toy_nested_model"
    inner_folds = 2

    [overrides.toy_nested_model]
    "train.epochs" = 1
    "train.batch_size" = 8

    [space.lr]
    type = "float"
    low = 1e-4
    high = 1e-1
    log = true
    target = "train.lr"

    [space.hidden]
    type = "categorical"
    choices = [4, 8, 16, 32]
    target = "hidden"
    """


def _scheme(store):
    """The outer folds as the sweep must see them: the manifest k-fold of the toy store."""
    return get_scheme("manifest", None, manifest=store.manifest)


def _speakers(store, clip_ids) -> set[str]:
    """The speakers of these clips, spelled as a split scheme spells them (``"00"`` -> ``"0"``)."""
    frame = store.manifest.frame.set_index("clip_id")
    return {norm_id(s) for s in frame.loc[list(clip_ids), "speaker"]}


def _fake_fit(train_config, on_epoch) -> FoldResult:
    """A validation-only result whose score depends on the sampled values (so each outer fold's
    best differs), reported to the pruner like a real epoch."""
    score = 1.0 - abs(math.log10(train_config.lr) + 2.0) / 3.0
    metrics = {"uar": score, "accuracy": score, "macro_f1": score, "weighted_f1": score, "loss": 1.0 - score,
               "selection": score}
    if on_epoch is not None:
        on_epoch(1, metrics)
    return FoldResult(val=metrics, best_epoch=1, history=[{"epoch": 1}])


class SpyExecutor:
    """Records every job (its resolved configs) and returns a finished result without training."""

    def __init__(self):
        self.jobs = []

    def run(self, jobs, done, on_epoch=None):
        for index, job in enumerate(jobs):
            self.jobs.append(job)
            done(index, FoldResult(test={"uar": 0.5}, fold=job.fold.name, seed=job.seed))


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    """A tracked nested training sweep of the toy model over every outer fold, run twice (the
    second run must resume, i.e. train nothing), with a spy on the clip ids of every trial.

    The spy replaces the training function the objective calls (``fit_fold``) and records the
    clip ids handed to it; it returns a validation score instead of training (the ids are
    what matters here, and the objective, pruner reports and tracking all run for real)."""
    tmp = tmp_path_factory.mktemp("nested")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCH_HOME", str(tmp / "home"))
        store = build_toy_store(tmp / "store", speakers=6, num_frames=4, image_size=16, n_mels=16, audio_steps=20)
        register_toy_model(MODEL)
        study = tmp / "sweep.toml"
        study.write_text(textwrap.dedent(STUDY))
        calls: list[tuple[str, dict[str, list[str]]]] = []  # (outer fold being tuned, the clip ids of one fit)
        current = {"outer": None}
        real_run_study = driver._run_study

        def run_study(settings, workers):  # which outer fold's study is running now
            current["outer"] = settings.extra["outer_fold"]
            return real_run_study(settings, workers)

        def fit_spy(*args, **kwargs):
            ids = kwargs["fold_ids"] if "fold_ids" in kwargs else args[4]
            calls.append((current["outer"], {part: list(values) for part, values in ids.items()}))
            return _fake_fit(args[2], kwargs.get("on_epoch"))

        patch.setattr(driver, "_run_study", run_study)
        patch.setattr(loop, "fit_fold", fit_spy)
        journal, uri = f"journal:{tmp / 'nested.journal'}", f"sqlite:///{tmp / 'mlflow.db'}"
        kwargs = dict(trials=TRIALS, storage=journal, tracking_uri=uri, extra={"store": str(store.root)}, pruning=False,
                      out=tmp / "nested.toml", study_name="toy-nested", nested=True)
        said: list[str] = []
        first = sweep(study, say=said.append, **kwargs)
        first_calls = list(calls)
        calls.clear()
        again = sweep(study, say=said.append, **kwargs)
        yield SimpleNamespace(store=store, study=study, first=first, again=again, calls=first_calls,
                              calls_again=list(calls), journal=journal, uri=uri, tmp=tmp, said=said)
    unregister_model(MODEL)


def test_no_trial_of_any_outer_fold_sees_a_clip_of_its_test_speakers(nested):
    scheme = _scheme(nested.store)
    assert len(scheme.folds) == 5
    assert [o.outer_fold for o in nested.first.outer] == [f.name for f in scheme.folds]
    every_clip = set(nested.store.clip_ids)
    for fold in scheme.folds:
        test_clips = set(fold.assign(nested.store.manifest)["test"])
        assert test_clips
        fits = [ids for outer, ids in nested.calls if outer == fold.name]
        assert len(fits) == TRIALS * 2, f"outer fold {fold.name}: every trial fits both inner folds"
        seen: set[str] = set()
        for ids in fits:
            assert ids.get("test", []) == []  # a trial never scores a test set
            used = set(ids["train"]) | set(ids["val"])
            assert not used & test_clips, f"outer fold {fold.name}: a trial saw its test clips {sorted(used & test_clips)}"
            assert not _speakers(nested.store, used) & set(fold.test)
            assert not set(ids["train"]) & set(ids["val"])
            seen |= used
        # ... and the trials did use every other clip (the spy watched real training data)
        assert seen == every_clip - test_clips


def test_each_outer_fold_has_its_own_study_seed_and_budget(nested):
    storage = open_storage(nested.journal)
    seeds = set()
    for outer in nested.first.outer:
        name = outer_study_name("toy-nested", outer.outer_fold)
        assert outer.study_name == name
        trials = optuna.load_study(study_name=name, storage=storage).get_trials()
        assert len(trials) == TRIALS and all(t.state.name == "COMPLETE" for t in trials)
        assert {t.user_attrs["outer_fold"] for t in trials} == {outer.outer_fold}
        seeds.add(driver.outer_seed(0, outer.outer_fold))
    assert len(seeds) == len(nested.first.outer)
    assert nested.first.n_complete == TRIALS * len(nested.first.outer)


def test_a_second_nested_invocation_runs_no_new_trials(nested):
    assert nested.calls_again == []  # nothing trained
    assert all(outer.skipped for outer in nested.again.outer)
    assert [o.best_params for o in nested.again.outer] == [o.best_params for o in nested.first.outer]
    assert nested.again.n_complete == nested.first.n_complete
    assert sum("already has its 2 finished trials; skipped" in line for line in nested.said) == 5
    client = MlflowClient(nested.uri)
    parent = client.get_run(nested.first.parent_run_id)
    trials = client.search_runs([parent.info.experiment_id], "tags.`bench.kind` = 'trial'", max_results=1000)
    assert len(trials) == TRIALS * 5  # the second invocation tracked no new trial
    assert nested.again.parent_run_id == nested.first.parent_run_id


def test_mlflow_nests_sweep_then_outer_fold_then_trial(nested):
    client = MlflowClient(nested.uri)
    parent = client.get_run(nested.first.parent_run_id)
    assert parent.data.tags["bench.kind"] == "sweep" and parent.data.tags["bench.nested"] == "true"
    experiment = [parent.info.experiment_id]
    outers = client.search_runs(experiment, "tags.`bench.kind` = 'outer-fold'", max_results=1000)
    assert {r.data.tags["mlflow.parentRunId"] for r in outers} == {parent.info.run_id}
    by_fold = {r.data.tags["bench.outer_fold"]: r for r in outers}
    assert sorted(by_fold) == [f.name for f in _scheme(nested.store).folds]
    assert {o.outer_fold: o.parent_run_id for o in nested.first.outer} == {k: r.info.run_id for k, r in by_fold.items()}
    trials = client.search_runs(experiment, "tags.`bench.kind` = 'trial'", max_results=1000)
    outer_ids = {r.info.run_id for r in outers}
    assert {t.data.tags["mlflow.parentRunId"] for t in trials} == outer_ids  # no trial hangs off the sweep's run
    for fold, outer_run in by_fold.items():
        children = [t for t in trials if t.data.tags["mlflow.parentRunId"] == outer_run.info.run_id]
        assert sorted(t.data.tags["optuna.trial"] for t in children) == [str(i) for i in range(TRIALS)]
        assert outer_run.data.params["outer_fold"] == fold
        assert outer_run.info.status == "FINISHED"
    assert parent.info.status == "FINISHED"


def test_per_fold_config_round_trips_through_the_loader(nested):
    path = nested.first.best_config_path
    assert path == nested.tmp / "nested.toml"
    study = load_study(path)
    scheme = _scheme(nested.store)
    assert study.kind == "run" and study.nested and study.tuning["mode"] == "nested"
    assert list(study.fold_overrides) == [f.name for f in scheme.folds]
    storage = open_storage(nested.journal)
    for fold in scheme.folds:
        best = optuna.load_study(study_name=outer_study_name("toy-nested", fold.name), storage=storage).best_trial.params
        assert study.fold_overrides[fold.name] == {"train.lr": best["lr"], "hidden": best["hidden"]}
        record = study.fold_tuning[fold.name]
        assert record["outer_fold"] == fold.name and record["sweep"] == outer_study_name("toy-nested", fold.name)
        assert [norm_id(s) for s in record["test_speakers"]] == fold.test
        assert set(record["tuned_on_speakers"]) == {s for s in nested.store.manifest.speakers if norm_id(s) not in fold.test}
        assert sorted(s for group in record["inner_val_speakers"] for s in group) == record["tuned_on_speakers"]
    assert study.overrides[MODEL] == {"train.epochs": 1, "train.batch_size": 8}  # shared by every fold
    assert len({study.fold_overrides[f]["train.lr"] for f in study.fold_overrides}) > 1  # really one per fold


def test_bench_run_gives_each_fold_its_own_configuration(nested):
    spy, console = SpyExecutor(), RecordingConsole()
    result = run(MODEL, "manifest", store=nested.store, config=nested.first.best_config_path, track=False,
                 progress=False, executor=spy, console=console)
    study = load_study(nested.first.best_config_path)
    assert [job.fold.name for job in spy.jobs] == list(study.fold_overrides)
    for job in spy.jobs:
        tuned = study.fold_overrides[job.fold.name]
        assert job.train_config.lr == tuned["train.lr"] and job.model_config.hidden == tuned["hidden"]
        assert job.train_config.epochs == 1  # the shared [train] table still applies
    assert len({job.key for job in spy.jobs}) == len(spy.jobs)  # per-fold configs: per-fold cache keys
    assert result.fold_configs["fold2"]["train"]["lr"] == study.fold_overrides["fold2"]["train.lr"]
    assert result.tuning_leak == ""
    assert not any("warning" in line for line in console.lines)


def test_nested_layer_is_recorded_per_fold(nested):
    from bench.study.resolve import resolve_configs

    layers: dict[str, str] = {}
    _, train = resolve_configs(MODEL, "manifest", config=nested.first.best_config_path, layers=layers, fold="fold3")
    assert layers["train.lr"] == nested_layer("fold3") == "nested-tuned (fold fold3)"
    assert layers["hidden"] == "nested-tuned (fold fold3)"
    assert layers["train.epochs"] == f"study {nested.first.best_config_path}"
    base: dict[str, str] = {}
    _, shared = resolve_configs(MODEL, "manifest", config=nested.first.best_config_path, layers=base)
    assert "train.lr" not in base and shared.lr != train.lr
    # --set still wins over the tuned value
    _, overridden = resolve_configs(MODEL, "manifest", config=nested.first.best_config_path, layers=layers,
                                    fold="fold3", overrides={"train.lr": 0.5})
    assert overridden.lr == 0.5 and layers["train.lr"] == "override"


def test_a_fold_the_per_fold_file_lacks_is_an_error_naming_file_and_fold(nested, tmp_path):
    document = load_toml(nested.first.best_config_path)
    del document["folds"]["fold4"]
    path = tmp_path / "partial.toml"
    path.write_text(tomli_w.dumps(document))
    with pytest.raises(ConfigError, match=rf"{path}: has no configuration for fold 'fold4' .*bench sweep --nested"):
        run(MODEL, "manifest", store=nested.store, config=path, track=False, progress=False, executor=SpyExecutor(),
            console=RecordingConsole())
    # the first three folds are all there: a run of those is fine
    spy = SpyExecutor()
    run(MODEL, "manifest", store=nested.store, config=path, folds=3, track=False, progress=False, executor=spy,
        console=RecordingConsole())
    assert len(spy.jobs) == 3


def test_nested_config_applied_to_another_split_warns_for_the_folds_it_leaks(nested, tmp_path):
    from bench.splits.scheme import Fold, SplitScheme

    speakers = nested.store.manifest.speakers
    study = load_study(nested.first.best_config_path)
    # fold1 of this split tests speakers that fold1's tuning saw; fold2 tests exactly what it was tuned without
    fold1_test = [s for s in speakers if s not in study.fold_tuning["fold1"]["test_speakers"]][:1]
    fold2_test = study.fold_tuning["fold2"]["test_speakers"]
    rest = lambda test: [s for s in speakers if s not in test]  # noqa: E731
    split = SplitScheme("other", "manifest", [Fold("fold1", train=rest(fold1_test)[1:], val=rest(fold1_test)[:1], test=fold1_test),
                                              Fold("fold2", train=rest(fold2_test)[1:], val=rest(fold2_test)[:1], test=fold2_test)])
    console = RecordingConsole()
    result = run(MODEL, "manifest", store=nested.store, split=split, config=nested.first.best_config_path, track=False,
                 progress=False, executor=SpyExecutor(), console=console)
    warnings = [line for line in console.lines if "warning" in line]
    assert len(warnings) == 1 and "of fold fold1 was tuned on speakers this fold tests" in warnings[0]
    assert result.tuning_leak.endswith("tune with bench sweep --nested on this split")


@pytest.fixture
def toy_store(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    store = build_toy_store(tmp_path / "store", speakers=6, num_frames=4, image_size=16, n_mels=16, audio_steps=20)
    register_toy_model(MODEL)
    study = tmp_path / "sweep.toml"
    study.write_text(textwrap.dedent(STUDY))
    yield store, study
    unregister_model(MODEL)


def test_single_fold_config_warns_and_tags_exactly_the_leaking_folds(toy_store, tmp_path, monkeypatch):
    store, study = toy_store
    out = tmp_path / "best.toml"
    sweep(study, trials=1, storage=f"journal:{tmp_path / 's.journal'}", extra={"store": str(store.root), "track": False},
          out=out, study_name="single", pruning=False)
    written = load_study(out)
    scheme = _scheme(store)
    assert written.tuning["mode"] == "single" and written.tuning["outer_fold"] == "fold1"
    assert [norm_id(s) for s in written.tuning["test_speakers"]] == scheme.folds[0].test
    # The leaking folds, found independently: those testing a speaker outside fold1's test speakers.
    expected = [f.name for f in scheme.folds[:3] if set(f.test) - set(scheme.folds[0].test)]
    assert expected == ["fold2", "fold3"]

    console = RecordingConsole()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setattr(loop, "fit_fold", lambda *a, **k: FoldResult(test={"uar": 0.5}, val={"uar": 0.5}, best_epoch=1))
    result = run(MODEL, "manifest", store=store, config=out, folds=3, tracking_uri=uri, progress=False,
                 system_metrics=False, executor=SerialExecutor(), console=console)
    message = (f"{out}: tuned on the non-test speakers of fold 'fold1'; folds fold2, fold3 test speakers the tuning "
               "saw (test leakage); tune with bench sweep --nested")
    assert [line for line in console.lines if "warning" in line] == [f"[yellow]warning:[/] {message}"]
    assert result.tuning_leak == message

    client = MlflowClient(uri)
    parent = client.get_run(result.parent_run_id)
    assert parent.data.tags["bench.tuning_leak"] == "true" and parent.data.tags["bench.tuning_leak.folds"] == "fold2,fold3"
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{result.parent_run_id}'")
    tags = {c.data.tags["fold"]: c.data.tags for c in children}
    assert {fold: t["bench.tuning_leak"] for fold, t in tags.items()} == {"fold1": "false", "fold2": "true", "fold3": "true"}
    assert "bench.tuning_leak.detail" not in tags["fold1"]
    for fold in ("fold2", "fold3"):
        leaked = set(scheme.folds[int(fold[-1]) - 1].test) - set(scheme.folds[0].test)
        spelled = [s for s in store.manifest.speakers if norm_id(s) in leaked]  # as the manifest (and the tag) spell them
        assert spelled and all(f"test speakers {s}" in tags[fold]["bench.tuning_leak.detail"] for s in spelled)

    from bench.report.provenance import provenance

    assert provenance("manifest", store, scheme, {"toy": result})["test leakage (toy)"] == message
    # Run on fold1 alone: nothing leaks, nothing is printed
    console = RecordingConsole()
    quiet = run(MODEL, "manifest", store=store, config=out, folds=1, track=False, progress=False,
                executor=SpyExecutor(), console=console)
    assert quiet.tuning_leak == "" and not any("warning" in line for line in console.lines)


def _toy_nested(study, store, journal, trials=1, **kwargs):
    """A nested sweep whose trials train nothing (the storage-check objective) on the toy store's folds."""
    return sweep(study, trials=trials, storage=journal, objective=TOY, extra={"store": str(store.root), "track": False},
                 study_name="resume", nested=True, **kwargs)


def test_nested_sweep_resumes_unfinished_outer_folds_and_skips_finished_ones(toy_store, tmp_path, monkeypatch):
    store, study = toy_store
    journal = f"journal:{tmp_path / 'r.journal'}"
    ran: list[str] = []
    real = driver._run_study

    def interrupted_at_fold3(settings, workers):
        if settings.extra["outer_fold"] == "fold3":
            raise KeyboardInterrupt
        ran.append(settings.extra["outer_fold"])
        return real(settings, workers)

    monkeypatch.setattr(driver, "_run_study", interrupted_at_fold3)
    with pytest.raises(KeyboardInterrupt):
        _toy_nested(study, store, journal, out=tmp_path / "n.toml")
    assert ran == ["fold1", "fold2"] and not (tmp_path / "n.toml").exists()

    ran.clear()
    monkeypatch.setattr(driver, "_run_study", lambda settings, workers: (ran.append(settings.extra["outer_fold"]),
                                                                         real(settings, workers)))
    result = _toy_nested(study, store, journal, out=tmp_path / "n.toml")
    assert ran == ["fold3", "fold4", "fold5"]
    assert [o.skipped for o in result.outer] == [True, True, False, False, False]
    storage = open_storage(journal)
    counts = [len(optuna.load_study(study_name=outer_study_name("resume", f), storage=storage).get_trials())
              for f in ("fold1", "fold2", "fold3", "fold4", "fold5")]
    assert counts == [1] * 5
    assert list(load_study(tmp_path / "n.toml").fold_overrides) == ["fold1", "fold2", "fold3", "fold4", "fold5"]


def test_nested_outer_study_started_elsewhere_is_continued_to_its_budget(toy_store, tmp_path):
    store, study = toy_store
    journal = f"journal:{tmp_path / 'c.journal'}"
    name = outer_study_name("resume", "fold2")
    # one trial of fold2's study already ran (an earlier, interrupted invocation)
    worker_loop(SweepSettings(str(study), name, journal, trials=1, sampler_seed=driver.outer_seed(0, "fold2"),
                              objective=TOY, extra={"store": str(store.root), "track": False, "outer_fold": "fold2"}))
    result = _toy_nested(study, store, journal, trials=2, write_best=False)
    assert [o.n_complete for o in result.outer] == [2] * 5 and not any(o.skipped for o in result.outer)
    assert result.best_config_path is None


def _cli_nested_sweep(toy_store, monkeypatch, out, journal, *extra_args):
    """``bench sweep --study <toy> --trials 1 --nested --out OUT ...`` with the toy objective."""
    from typer.testing import CliRunner

    from bench.cli import _load_commands, app

    store, study = toy_store
    real = driver.sweep
    monkeypatch.setattr(driver, "sweep", lambda *a, **k: real(*a, **{**k, "objective": TOY,
                                                                      "extra": {"track": False, "store": str(store.root)}}))
    _load_commands()
    result = CliRunner().invoke(app, ["sweep", "--study", str(study), "--trials", "1", "--nested", "--out", str(out),
                                      *extra_args, "--storage", f"journal:{journal}"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_cli_nested_prints_one_row_per_outer_fold_and_the_reuse_command(toy_store, tmp_path, monkeypatch):
    import shlex

    out = tmp_path / "per fold.toml"
    result = _cli_nested_sweep(toy_store, monkeypatch, out, tmp_path / "cli.journal")
    assert all(f"fold{i}" in result.output for i in range(1, 6))
    lines = result.output.splitlines()
    index = lines.index(f"per-fold configurations written to {out}; run each fold with its own:")
    assert shlex.split(lines[index + 1]) == ["bench", "run", "--model", MODEL, "--config", str(out)]
    assert load_study(out).nested


@pytest.mark.slow
def test_a_tracked_nested_sweep_resumed_with_a_larger_budget_records_the_new_best(toy_store, tmp_path):
    store, study = toy_store
    two_folds = tmp_path / "two_folds.toml"
    two_folds.write_text(study.read_text().replace('inner_folds = 2', 'inner_folds = 2\nfolds = 2'))
    uri, journal = f"sqlite:///{tmp_path / 'mlflow.db'}", f"journal:{tmp_path / 'b.journal'}"

    def nested_sweep(trials):
        return sweep(two_folds, trials=trials, storage=journal, tracking_uri=uri, objective=TOY, study_name="grow",
                     extra={"store": str(store.root)}, nested=True, out=tmp_path / "grow.toml")

    nested_sweep(1)
    result = nested_sweep(4)  # MLflow refuses to change a logged param: the new best must not crash the finish
    assert [o.outer_fold for o in result.outer] == ["fold1", "fold2"] and result.n_complete == 8
    assert result.reuse_command.endswith("--folds 2")  # the file configures the first two folds only
    storage = open_storage(journal)
    first = [optuna.load_study(study_name=outer_study_name("grow", f), storage=storage).trials[0].params for f in ("fold1", "fold2")]
    assert any(o.best_params != f for o, f in zip(result.outer, first)), "no best changed: the test proves nothing"
    client = MlflowClient(uri)
    for outer in result.outer:
        tags = client.get_run(outer.parent_run_id).data.tags
        assert tags["best.lr"] == str(outer.best_params["lr"])
    assert load_study(tmp_path / "grow.toml").fold_overrides["fold2"]["train.lr"] == result.outer[1].best_params["lr"]


def test_holdout_inner_split_trains_on_each_outer_folds_own_train_and_val_with_the_laid_budget(toy_store, tmp_path, monkeypatch):
    """``inner_folds = 1`` (``--inner-folds 1``): every trial of outer fold F fits exactly F's own
    (train, val) clips, the split ``bench run`` early-stops on, never a clip of F's test
    speakers; ``overrides`` (``--set``) reach every trial and the written file."""
    store, study = toy_store
    fits: list[tuple[int, dict[str, list[str]]]] = []

    def fit_spy(*args, **kwargs):
        fits.append((args[2].epochs, {part: list(values) for part, values in args[4].items()}))
        return _fake_fit(args[2], kwargs.get("on_epoch"))

    monkeypatch.setattr(loop, "fit_fold", fit_spy)
    out = tmp_path / "holdout.toml"
    result = sweep(study, trials=2, storage=f"journal:{tmp_path / 'h.journal'}", pruning=False, nested=True, out=out,
                   extra={"store": str(store.root), "track": False}, inner_folds=1, overrides={"train.epochs": 3})
    scheme = _scheme(store)
    assert len(fits) == 2 * len(scheme.folds)  # one training a trial, not one per inner fold
    assert {epochs for epochs, _ in fits} == {3}
    for index, fold in enumerate(scheme.folds):
        parts = fold.assign(store.manifest)
        for _, ids in fits[2 * index: 2 * index + 2]:
            assert ids == {"train": parts["train"], "val": parts["val"], "test": []}
            assert not _speakers(store, ids["train"] + ids["val"]) & set(fold.test)
    written = load_study(out)
    assert written.overrides[MODEL]["train.epochs"] == 3  # bench run --config trains as the trials did
    assert written.tuning["inner_folds"] == 1
    for fold in scheme.folds:
        record = written.fold_tuning[fold.name]
        assert [[norm_id(s) for s in group] for group in record["inner_val_speakers"]] == [sorted(fold.val)]
        assert {norm_id(s) for s in record["tuned_on_speakers"]} == set(fold.train) | set(fold.val)
    # another budget is another Optuna study, never a resumed one
    assert result.study_name != driver.default_study_name(load_study(study))


def test_bad_inner_folds_and_overrides_fail_before_any_trial(toy_store, tmp_path):
    store, study = toy_store
    kwargs = dict(trials=1, storage=f"journal:{tmp_path / 'x.journal'}", extra={"store": str(store.root), "track": False})
    with pytest.raises(ConfigError, match="--inner-folds 0"):
        sweep(study, inner_folds=0, **kwargs)
    with pytest.raises(ConfigError, match="--set"):
        sweep(study, overrides={"train.no_such_key": 1}, **kwargs)
    bad = tmp_path / "bad.toml"
    bad.write_text(study.read_text().replace("inner_folds = 2", "inner_folds = 0"))
    with pytest.raises(ConfigError, match="inner_folds must be a whole number >= 1"):
        load_study(bad)


def test_no_trial_is_pruned_before_a_quarter_of_its_epochs_or_the_models_min_epochs(toy_store, tmp_path, monkeypatch):
    """Early epochs sit near chance for every configuration: the pruner is asked only from
    epoch max(min_epochs, ceil(epochs / 4)) of each inner fold on."""
    from bench.sweep.objective import prune_from_epoch
    from bench.train.config import TrainConfig

    assert prune_from_epoch(TrainConfig(epochs=40)) == 10
    assert prune_from_epoch(TrainConfig(epochs=40, min_epochs=20)) == 20
    assert prune_from_epoch(TrainConfig(epochs=2)) == 1
    store, study = toy_store
    asked: list[int] = []
    current = {"epoch": 0}
    real = optuna.trial.Trial.should_prune

    def should_prune(self):
        asked.append(current["epoch"])
        return real(self)

    def fit(*args, **kwargs):
        for epoch in range(1, args[2].epochs + 1):
            current["epoch"] = epoch
            kwargs["on_epoch"](epoch, {"uar": 0.5, "selection": 0.5, "loss": 1.0})
        return FoldResult(val={"uar": 0.5, "selection": 0.5, "loss": 1.0}, best_epoch=1, history=[{"epoch": 1}])

    monkeypatch.setattr(optuna.trial.Trial, "should_prune", should_prune)
    monkeypatch.setattr(loop, "fit_fold", fit)
    sweep(study, trials=3, storage=f"journal:{tmp_path / 'p.journal'}", extra={"store": str(store.root), "track": False},
          overrides={"train.epochs": 8}, inner_folds=1, write_best=False)
    assert asked and min(asked) == 2  # epochs 2..8 of 8 (ceil(8 / 4) = 2), never epoch 1


def test_cli_set_and_inner_folds_reach_the_written_configuration(toy_store, tmp_path, monkeypatch):
    out = tmp_path / "laid.toml"
    _cli_nested_sweep(toy_store, monkeypatch, out, tmp_path / "laid.journal",
                      "--inner-folds", "1", "--set", "train.epochs=7", "--set", "train.patience=3")
    written = load_study(out)
    assert written.overrides[MODEL]["train.epochs"] == 7 and written.overrides[MODEL]["train.patience"] == 3
    assert written.tuning["inner_folds"] == 1


def test_start_from_defaults_makes_trial_0_of_every_outer_study_the_models_own_setting(toy_store, tmp_path, monkeypatch):
    from bench.train.config import TrainConfig

    store, study = toy_store
    monkeypatch.setattr(loop, "fit_fold", lambda *a, **k: _fake_fit(a[2], k.get("on_epoch")))
    journal = f"journal:{tmp_path / 'd.journal'}"
    result = sweep(study, trials=2, storage=journal, pruning=False, nested=True, write_best=False, study_name="defaults",
                   extra={"store": str(store.root), "track": False}, start_from_defaults=True)
    storage = open_storage(journal)
    for outer in result.outer:
        trials = optuna.load_study(study_name=outer.study_name, storage=storage).get_trials()
        assert trials[0].params == {"lr": TrainConfig().lr, "hidden": 16}  # the toy's own lr and width
        assert trials[1].params != trials[0].params
    again = sweep(study, trials=3, storage=journal, pruning=False, nested=True, write_best=False, study_name="defaults",
                  extra={"store": str(store.root), "track": False}, start_from_defaults=True)
    for outer in again.outer:  # a resumed study does not run the defaults twice
        params = [t.params for t in optuna.load_study(study_name=outer.study_name, storage=storage).get_trials()]
        assert len(params) == 3 and params.count(params[0]) == 1
