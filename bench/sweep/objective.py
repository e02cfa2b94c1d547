"""The training objective of a sweep: mean validation score over inner folds, never test.

Inner folds are drawn from the speakers that the outer fold (``outer_fold``, the scheme's
first fold by default) does *not* test: those speakers are split k ways (``inner_folds``) and
each part serves once as validation while the rest train. No clip of a test speaker is ever
loaded by a trial, and no test metric is ever computed: the best configuration is then run on
the outer folds with ``bench run --config`` like any other.
"""

from __future__ import annotations

import random
from typing import Any

import optuna

from bench.errors import ConfigError
from bench.studies.loader import Study
from bench.sweep.driver import PARENT_RUN_ATTR, SweepSettings, sample_overrides


def inner_fold_ids(manifest, test_speakers: set[str], k: int, seed: int = 0) -> list[dict[str, list[str]]]:
    """``k`` (train, val) partitions of the clips whose speakers are not in ``test_speakers``."""
    frame = manifest.frame
    speakers = sorted(set(frame["speaker"]) - set(test_speakers))
    if k < 2 or k > len(speakers):
        raise ConfigError(f"inner_folds={k}: need 2 <= k <= {len(speakers)} (speakers outside the outer test fold)")
    random.Random(seed).shuffle(speakers)
    groups = [speakers[i::k] for i in range(k)]
    folds = []
    for i, val_speakers in enumerate(groups):
        val_set = set(val_speakers)
        train = frame[~frame["speaker"].isin(val_set) & ~frame["speaker"].isin(test_speakers)]["clip_id"].tolist()
        val = frame[frame["speaker"].isin(val_set)]["clip_id"].tolist()
        folds.append({"train": train, "val": val, "test": []})
    return folds


class TrainingObjective:
    """Builds the data once per worker process, then trains one configuration per trial."""

    def __init__(self, study: Study, settings: SweepSettings):
        from bench.data.open import open_dataset
        from bench.splits import get_scheme

        self.study = study
        self.settings = settings
        if settings.extra.get("store"):  # an already prepared feature store (any corpus)
            from bench.data.store import FeatureStore

            self.store = FeatureStore.open(settings.extra["store"])
            self.dataset = study.dataset or "manifest"
        else:
            options = {**study.options, **settings.extra.get("options", {})}  # CLI --option over [study.options]
            self.store, self.dataset, _ = open_dataset(study.dataset, study.root, options=options, progress=False,
                                                       say=lambda *_: None)
        scheme = get_scheme(self.dataset, study.scheme, manifest=self.store.manifest)
        outer_name = settings.extra.get("outer_fold")
        outer = scheme.folds[0] if outer_name is None else next(f for f in scheme.folds if f.name == outer_name)
        outer_ids = outer.assign(self.store.manifest)
        test_clips = set(outer_ids["test"])
        frame = self.store.manifest.frame
        test_speakers = set(frame[frame["clip_id"].isin(test_clips)]["speaker"])
        self.outer_fold = outer.name
        self.folds = inner_fold_ids(self.store.manifest, test_speakers, study.inner_folds, settings.sampler_seed)

    def __call__(self, trial: optuna.Trial) -> float:
        from bench.study.resolve import adapt_to_store, explicit_model_keys, resolve_configs
        from bench.train.config import resolve_selection_metric
        from bench.train.loop import fill_data_fields, fit_fold
        from bench.tracking import sweep as track

        overrides = {**self.study.model_overrides(self.study.model), **sample_overrides(trial, self.study)}
        if self.study.metric != "auto":
            overrides.setdefault("train.selection_metric", self.study.metric)
        model_config, train_config = resolve_configs(self.study.model, self.dataset, overrides=overrides, device_kind=self.settings.device)
        explicit = explicit_model_keys(self.study.model, self.dataset, overrides, None, self.settings.device)
        model_config = fill_data_fields(adapt_to_store(model_config, self.store, explicit, []), self.store)
        metric = resolve_selection_metric(train_config, model_config.task)
        trial.set_user_attr("metric", metric)
        trial.set_user_attr("outer_fold", self.outer_fold)

        parent = trial.study.user_attrs.get(PARENT_RUN_ATTR) if self.settings.extra.get("track", True) else None
        run_id = track.create_trial_run(self.settings, self.study, parent, trial.number, overrides) if parent else None
        epochs = train_config.epochs
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
                    if trial.should_prune():
                        raise optuna.TrialPruned(f"pruned at inner fold {index + 1}, epoch {epoch}")

                result = fit_fold(self.study.model, model_config, train_config, self.store, ids,
                                  seed=self.settings.sampler_seed, device=self.settings.device,
                                  on_epoch=on_epoch, fold_name=f"inner{index + 1}")
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
