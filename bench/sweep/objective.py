"""The training objective of a sweep: mean validation score over inner folds, never test.

Inner folds are drawn from the speakers that the outer fold (``outer_fold``, the scheme's
first fold by default) does *not* test: those speakers are split k ways (``inner_folds``) and
each part serves once as validation while the rest train. ``inner_folds = 1`` is the hold-out
form: one inner split, the outer fold's own training and validation speakers (the split that
``bench run`` early-stops on), so a trial costs one training instead of k. No clip of a test
speaker is ever loaded by a trial, and no test metric is ever computed: the best configuration is then run on
the outer folds with ``bench run --config`` like any other.

A nested sweep (``bench sweep --nested``) runs one study per outer fold, each objective with
its own ``outer_fold``; :func:`outer_fold_record` is what each one was tuned on, written into
the per-fold configuration file so that ``bench run`` can prove (or warn) that no fold's test
speakers were seen by the tuning that configured it.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

import optuna

from bench.errors import ConfigError
from bench.studies.loader import Study
from bench.sweep.driver import PARENT_RUN_ATTR, TUNED_ON_ATTR, SweepSettings, sample_overrides


def inner_fold_speakers(manifest, test_speakers: set[str], k: int, seed: int = 0) -> list[list[str]]:
    """The validation speakers of each of ``k`` inner folds over the speakers not in ``test_speakers``."""
    speakers = sorted(set(manifest.frame["speaker"]) - set(test_speakers))
    if k < 2 or k > len(speakers):
        raise ConfigError(f"inner_folds={k}: need 2 <= k <= {len(speakers)} (speakers outside the outer test fold), "
                          "or 1 for the outer fold's own validation speakers")
    random.Random(seed).shuffle(speakers)
    return [speakers[i::k] for i in range(k)]


def inner_fold_ids(manifest, test_speakers: set[str], k: int, seed: int = 0, fold=None) -> list[dict[str, list[str]]]:
    """``k`` (train, val) partitions of the clips whose speakers are not in ``test_speakers``;
    for ``k = 1``, the outer ``fold``'s own (train, val) parts (the hold-out inner split)."""
    if k == 1:
        return [holdout_ids(manifest, fold, test_speakers)]
    frame = manifest.frame
    folds = []
    for val_speakers in inner_fold_speakers(manifest, test_speakers, k, seed):
        val_set = set(val_speakers)
        train = frame[~frame["speaker"].isin(val_set) & ~frame["speaker"].isin(test_speakers)]["clip_id"].tolist()
        val = frame[frame["speaker"].isin(val_set)]["clip_id"].tolist()
        folds.append({"train": train, "val": val, "test": []})
    return folds


def holdout_ids(manifest, fold, test_speakers: set[str]) -> dict[str, list[str]]:
    """The hold-out inner split (``inner_folds = 1``): the outer fold's own training and
    validation clips. It needs the fold (a bare speaker set has no validation part), and a
    validation speaker among ``test_speakers`` is an error, not a leak."""
    if fold is None:
        raise ConfigError("inner_folds = 1 (hold-out) tunes on the outer fold's own validation speakers: give the fold")
    parts = fold.assign(manifest)
    frame = manifest.frame
    seen = set(frame[frame["clip_id"].isin(set(parts["train"]) | set(parts["val"]))]["speaker"]) & set(test_speakers)
    if seen:
        raise ConfigError(f"fold {fold.name}: speakers {sorted(map(str, seen))} are both test and train/validation speakers")
    return {"train": list(parts["train"]), "val": list(parts["val"]), "test": []}


def open_sweep_data(study: Study, settings: SweepSettings):
    """``(store, dataset, scheme)`` of a sweep: a prepared store (``extra["store"]``) or the study's dataset."""
    from bench.data.open import open_dataset
    from bench.splits import get_scheme

    if settings.extra.get("store"):  # an already prepared feature store (any corpus)
        from bench.data.store import FeatureStore

        store = FeatureStore.open(settings.extra["store"])
        dataset = study.dataset or "manifest"
    else:
        options = {**study.options, **settings.extra.get("options", {})}  # CLI --option over [study.options]
        store, dataset, _ = open_dataset(study.dataset, study.root, options=options, progress=False, say=lambda *_: None)
    return store, dataset, get_scheme(dataset, study.scheme, manifest=store.manifest)


def outer_folds(study: Study, scheme) -> list:
    """The outer folds a nested sweep tunes: every fold of the scheme (the first ``[study] folds``)."""
    folds = list(scheme.folds)
    if study.folds is not None:
        if not 1 <= int(study.folds) <= len(folds):
            raise ConfigError(f"{study.path}: [study] folds = {study.folds}, but scheme {scheme.dataset}/{scheme.name} "
                              f"has {len(folds)} folds")
        folds = folds[:int(study.folds)]
    return folds


def find_outer_fold(scheme, name: str | None):
    """The fold ``name`` of ``scheme`` (its first fold when ``name`` is None)."""
    if name is None:
        return scheme.folds[0]
    for fold in scheme.folds:
        if fold.name == name:
            return fold
    raise ConfigError(f"outer fold {name!r} is not a fold of scheme {scheme.dataset}/{scheme.name} "
                      f"(its folds: {', '.join(f.name for f in scheme.folds)})")


def outer_test_speakers(manifest, fold) -> set:
    """The speakers of ``fold``'s test clips, as the manifest spells them."""
    frame = manifest.frame
    test_clips = set(fold.assign(manifest)["test"])
    return set(frame[frame["clip_id"].isin(test_clips)]["speaker"])


def outer_fold_record(store, dataset: str, scheme, fold, k: int, seed: int, test_speakers: set | None = None) -> dict[str, Any]:
    """What a study tuned on ``fold`` saw: plain data, written with the configuration it chose.

    ``tuned_on_speakers`` are every speaker of the corpus outside the fold's test speakers (the
    inner folds' training and validation speakers); ``bench run --config`` warns for any fold
    whose test speakers are among them (test leakage).
    """
    from bench.config import stable_hash

    if test_speakers is None:
        test_speakers = outer_test_speakers(store.manifest, fold)
    if k == 1:  # hold-out: the fold's own validation speakers; the tuning also trains on its training speakers
        frame = store.manifest.frame
        parts = holdout_ids(store.manifest, fold, test_speakers)
        inner = [sorted(set(frame[frame["clip_id"].isin(set(parts["val"]))]["speaker"]))]
        tuned_on = sorted(str(s) for s in set(frame[frame["clip_id"].isin(set(parts["train"]) | set(parts["val"]))]["speaker"]))
    else:
        inner = inner_fold_speakers(store.manifest, test_speakers, k, seed)
        tuned_on = sorted(str(s) for group in inner for s in group)
    return {"outer_fold": fold.name, "dataset": dataset, "corpus": str(store.manifest.corpus), "scheme": scheme.name,
            "split_checksum": scheme.checksum, "test_speakers": sorted(str(s) for s in test_speakers),
            "tuned_on_speakers": tuned_on, "tuned_on_hash": stable_hash(tuned_on), "inner_folds": k,
            "inner_val_speakers": [sorted(str(s) for s in group) for group in inner], "seed": seed}


# No trial is pruned before this share of its epoch budget, nor before the model's own
# train.min_epochs: in the first epochs every configuration sits near chance (AuxFormer's
# synthetic preset plateaus at ln C for 10-16 epochs), so a median taken there prunes on noise.
# Seen in a bench compare --tune run: DE-III trials pruned after one epoch, in 2 s and 8 s.
PRUNE_FROM_SHARE = 0.25


def prune_from_epoch(train_config) -> int:
    """The first epoch of each inner fold at which a trial may be pruned."""
    return max(1, int(getattr(train_config, "min_epochs", 0) or 0), math.ceil(PRUNE_FROM_SHARE * train_config.epochs))


class TrainingObjective:
    """Builds the data once per worker process, then trains one configuration per trial."""

    def __init__(self, study: Study, settings: SweepSettings):
        self.study = study
        self.settings = settings
        self.store, self.dataset, scheme = open_sweep_data(study, settings)
        self.scheme = scheme
        outer = find_outer_fold(scheme, settings.extra.get("outer_fold"))
        test_speakers = outer_test_speakers(self.store.manifest, outer)
        self.record = outer_fold_record(self.store, self.dataset, scheme, outer, study.inner_folds, settings.sampler_seed,
                                        test_speakers)
        self.outer_fold = outer.name
        self.folds = inner_fold_ids(self.store.manifest, test_speakers, study.inner_folds, settings.sampler_seed, fold=outer)
        # A [study] metric the model's task does not produce fails here, before any trial (the
        # trials catch their exceptions and would each fail on it).
        from bench.train.config import resolve_selection_metric

        model_config, train_config = self.configs(self.overrides({}))
        try:
            resolve_selection_metric(train_config, model_config.task)
        except ConfigError as exc:
            raise ConfigError(f"{study.path}: [study] metric: {exc}") from None

    def default_params(self) -> dict[str, Any]:
        """The space's dimensions at the values the model trains with untuned (recipe, presets
        and the study's settings), for those that lie inside the space: the first trial of a
        sweep that starts from the defaults, so the model's own settings are always among the
        candidates the validation score chooses from (a small budget cannot offer only worse ones)."""
        model_config, train_config = self.configs(self.overrides({}))
        params: dict[str, Any] = {}
        for dimension in self.study.space:
            key = dimension.target
            source = train_config if key.startswith("train.") else model_config
            value = getattr(source, key.removeprefix("train."), None)
            if dimension.type == "categorical":
                if value in dimension.choices:
                    params[dimension.name] = value
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and dimension.low <= value <= dimension.high:
                params[dimension.name] = int(value) if dimension.type == "int" else float(value)
        return params

    def overrides(self, sampled: dict[str, Any]) -> dict[str, Any]:
        """One trial's overrides: the study's settings, then the ``sampled`` values, and the
        study's metric as the trainer's selection metric."""
        overrides = {**self.study.model_overrides(self.study.model), **sampled}
        if self.study.metric != "auto":
            overrides.setdefault("train.selection_metric", self.study.metric)
        return overrides

    def configs(self, overrides: dict[str, Any]):
        """(model config, train config) for ``overrides``, fitted to the store."""
        from bench.study.resolve import adapt_to_store, explicit_model_keys, resolve_configs
        from bench.train.loop import fill_data_fields

        model_config, train_config = resolve_configs(self.study.model, self.dataset, overrides=overrides, device_kind=self.settings.device)
        explicit = explicit_model_keys(self.study.model, self.dataset, overrides, None, self.settings.device)
        return fill_data_fields(adapt_to_store(model_config, self.store, explicit, [], train_config.window_steps), self.store), train_config

    def __call__(self, trial: optuna.Trial) -> float:
        from bench.train.config import resolve_selection_metric
        from bench.tracking import sweep as track

        overrides = self.overrides(sample_overrides(trial, self.study))
        model_config, train_config = self.configs(overrides)
        metric = resolve_selection_metric(train_config, model_config.task)
        trial.set_user_attr("metric", metric)
        trial.set_user_attr("outer_fold", self.outer_fold)
        if TUNED_ON_ATTR not in trial.study.user_attrs:  # what the written configuration was tuned on
            trial.study.set_user_attr(TUNED_ON_ATTR, self.record)

        parent = trial.study.user_attrs.get(PARENT_RUN_ATTR) if self.settings.extra.get("track", True) else None
        run_id = track.create_trial_run(self.settings, self.study, parent, trial.number, overrides) if parent else None
        epochs = train_config.epochs
        prune_from = prune_from_epoch(train_config)
        curves: list[tuple[str, float, int]] = []
        scores: list[float] = []
        state = "FAIL"
        try:
            for index, ids in enumerate(self.folds):
                def on_epoch(epoch: int, val: dict[str, Any], index=index) -> None:
                    step = index * epochs + epoch
                    value = float(val[metric])
                    curves.append((f"val_{metric}", value, step))
                    trial.report(value, step)
                    if epoch >= prune_from and trial.should_prune():
                        raise optuna.TrialPruned(f"pruned at inner fold {index + 1}, epoch {epoch}")

                result = self.fit_inner(index, ids, model_config, train_config, on_epoch)
                if not result.finished:
                    raise RuntimeError(result.error)
                scores.append(float(result.val[metric]))
            value = sum(scores) / len(scores)
            state = "COMPLETE"
            return value
        except optuna.TrialPruned:
            state = "PRUNED"
            raise
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM to the worker (bench.interrupt)
            state = "KILLED"
            raise
        finally:
            if run_id:
                curves.extend((f"inner_{metric}", s, i) for i, s in enumerate(scores))
                track.log_trial_metrics(self.settings, run_id, curves)
                track.finish_trial_run(self.settings, run_id, state, sum(scores) / len(scores) if state == "COMPLETE" else None)

    # -- trials in the results ledger ------------------------------------------------------
    def fit_inner(self, index: int, ids: dict, model_config, train_config, on_epoch):
        """One inner fold of a trial: replayed from its ledger record, else trained (and recorded).

        A trial's training is a job like any other, keyed by everything that determines its
        numbers (its configuration, the inner fold's clips, the sweep's seed), so a sweep that
        stopped on one machine replays on another: the record's validation curve goes through
        ``on_epoch`` (the trial reports it and is pruned where it was), and the sampler, seeded
        per trial number, proposes the same next configuration from the same history. A pruned
        trial's record holds the curve up to its pruning; if this study would not prune there,
        the fold is trained in full.
        """
        import optuna

        from bench.train.loop import fit_fold

        ledger, key, fingerprint = self._ledger_slot(index, ids, model_config, train_config)
        if ledger is not None:
            found = ledger.lookup(key, fingerprint, self._platform()["id"]).record
            if found is not None:
                for entry in found.result.get("history", []):
                    on_epoch(int(entry["epoch"]), {k[4:]: v for k, v in entry.items() if k.startswith("val_")})
                if found.result.get("status") == "finished":
                    return found.to_result()
        curve: list[dict] = []

        def recorded(epoch: int, val: dict) -> None:
            curve.append({"epoch": epoch, **{f"val_{k}": v for k, v in val.items()}})
            on_epoch(epoch, val)

        cpu, started = time.process_time(), time.perf_counter()
        try:
            result = fit_fold(self.study.model, model_config, train_config, self.store, ids,
                              seed=self.settings.sampler_seed, device=self.settings.device,
                              on_epoch=recorded, fold_name=f"inner{index + 1}")
        except optuna.TrialPruned as exc:
            if ledger is not None:
                from bench.train.result import FoldResult

                pruned = FoldResult(status="pruned", error=str(exc), history=curve, fold=f"inner{index + 1}",
                                    seed=self.settings.sampler_seed, seconds=time.perf_counter() - started)
                self._record(ledger, key, fingerprint, index, model_config, train_config, pruned, cpu)
            raise
        if ledger is not None and result.finished:
            self._record(ledger, key, fingerprint, index, model_config, train_config, result, cpu)
        return result

    def _platform(self) -> dict:
        from bench.study.recording import this_platform

        return this_platform(str(self.settings.device))

    def _ledger_slot(self, index: int, ids: dict, model_config, train_config):
        """(ledger or None, the inner fold's content key, the model's code fingerprint)."""
        from bench.config import stable_hash
        from bench.ledger import default_ledger, fingerprint_of
        from bench.models.registry import get_model_entry
        from bench.study.cache import fold_key

        ledger = default_ledger()
        if ledger is None:
            return None, "", ""
        entry = get_model_entry(self.study.model)
        self._split = stable_hash({"scheme": self.scheme.checksum, "train": ids["train"], "val": ids["val"]}, length=64)
        key = fold_key(self.study.model, model_config, train_config, self.store.key, self._split,
                       self.inner_name(index), self.settings.sampler_seed)
        return ledger, key, fingerprint_of(entry.model_class, entry.config_class)

    def inner_name(self, index: int) -> str:
        return f"{self.outer_fold}/inner{index + 1}"

    def _record(self, ledger, key: str, fingerprint: str, index: int, model_config, train_config, result, cpu: float) -> None:
        import datetime as _dt

        import torch

        from bench.ledger import Record
        from bench.study.cache import RESULTS_SALT, key_fields

        fields = key_fields(self.study.model, model_config, train_config, self.store.key, self._split,
                            self.inner_name(index), self.settings.sampler_seed)
        result.platform, result.code_fingerprint = self._platform(), fingerprint
        result.cpu_seconds = time.process_time() - cpu
        job = {"model": self.study.model, "dataset": self.dataset, "fold": self.inner_name(index),
               "seed": int(self.settings.sampler_seed), "tuning": "trial", "outer_fold": self.outer_fold,
               "split_scheme": self.scheme.name, "split_checksum": self._split, "store": self.store.key,
               "config": {"model": fields["model_config"], "train": fields["train_config"]}}
        ledger.write(Record.of(key, job, result, {"code": fingerprint, "salt": RESULTS_SALT},
                               {"threads": torch.get_num_threads(), "origin": "trial",
                                "written_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}))
