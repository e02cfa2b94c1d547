"""What a tuned configuration saw, checked against the folds a run applies it to (test leakage).

A configuration written by ``bench sweep`` records the speakers its tuning saw (``[tuning]
tuned_on_speakers``: every speaker outside the test speakers of the outer fold it was tuned
on). Applied with ``bench run --config`` to *every* fold, it has seen the test speakers of
all the other folds: their scores are optimistic, because the configuration was chosen with
those speakers' clips in its inner training and validation sets. This module finds exactly
those folds, so that the run warns and tags them (it does not refuse: the single-fold sweep
is still a fair way to pick settings for a model that is then run elsewhere).

A file written by ``bench sweep --nested`` holds one configuration per outer fold, each tuned
only on that fold's non-test speakers; applied to the same scheme, no fold leaks. Applied to
another scheme whose folds carry the same names, the same check catches the speakers that do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import ConfigError

TUNED_SUFFIX = "-tuned"  # a comparison's nested-tuned row of model M is named "M-tuned" (bench compare --tune)
LEAK_TAG = "bench.tuning_leak"  # "true" on the MLflow runs of the folds whose test speakers the tuning saw
TAG_LIMIT = 5000  # characters kept of a tag's text (MLflow limits tag values)


@dataclass
class TuningCheck:
    """The outcome of :func:`check_tuning` for one run."""

    config: str  # the study file, as the user named it
    mode: str  # "single" (one configuration, tuned on one outer fold) or "nested" (one per fold)
    tuned_on_fold: str = ""  # single mode: the outer fold it was tuned on
    leaks: dict[str, list[str]] = field(default_factory=dict)  # fold -> its test speakers the tuning saw
    checked: list[str] = field(default_factory=list)  # folds whose tuning record allowed the check

    @property
    def leaked(self) -> list[str]:
        return list(self.leaks)

    @property
    def message(self) -> str:
        """The one-line warning (without ``warning:``), or ``""`` when no fold leaks."""
        if not self.leaks:
            return ""
        folds = ", ".join(self.leaks)
        many = len(self.leaks) > 1
        if self.mode == "single":
            return (f"{self.config}: tuned on the non-test speakers of fold {self.tuned_on_fold!r}; "
                    f"{'folds' if many else 'fold'} {folds} {'test' if many else 'tests'} speakers the tuning saw "
                    "(test leakage); tune with bench sweep --nested")
        return (f"{self.config}: the configuration{'s' if many else ''} of {'folds' if many else 'fold'} {folds} "
                f"{'were' if many else 'was'} tuned on speakers {'these folds test' if many else 'this fold tests'} "
                "(test leakage: the file was tuned on another split); tune with bench sweep --nested on this split")

    def run_tags(self) -> dict[str, str]:
        """Tags of the run's parent: the mode, and the leaking folds with the warning."""
        tags = {"bench.tuning": self.mode, LEAK_TAG: str(bool(self.leaks)).lower()}
        if self.leaks:
            tags.update({f"{LEAK_TAG}.folds": ",".join(self.leaks)[:TAG_LIMIT], f"{LEAK_TAG}.detail": self.message[:TAG_LIMIT]})
        return tags

    def fold_tags(self, fold: str) -> dict[str, str]:
        """Tags of one fold's runs: whether (and which of) its test speakers the tuning saw."""
        if fold not in self.checked:
            return {"bench.tuning": self.mode}
        tags = {"bench.tuning": self.mode, LEAK_TAG: str(fold in self.leaks).lower()}
        if fold in self.leaks:
            where = f"fold {self.tuned_on_fold!r}" if self.mode == "single" else "another split's fold of this name"
            tags[f"{LEAK_TAG}.detail"] = (f"test speakers {', '.join(self.leaks[fold])} of fold {fold!r} were seen by the "
                                          f"tuning of {self.config} (tuned on the non-test speakers of {where})")[:TAG_LIMIT]
        return tags


def _speakers(manifest, clip_ids) -> set[str]:
    frame = manifest.frame
    return {str(s) for s in frame[frame["clip_id"].isin(set(clip_ids))]["speaker"]}


def check_tuning(config: str | Path, model: str, manifest, folds, fold_ids: dict[str, dict[str, list[str]]]) -> TuningCheck | None:
    """Check a ``--config`` file's tuning record against the run's ``folds``.

    ``fold_ids``: each fold's clip ids (``Fold.assign``). Returns None for a file with no
    tuning record (hand-written). A nested-tuned file that lacks one of ``folds`` is an error
    naming the file and the fold. A record from another corpus cannot leak into this one (its
    speaker ids mean other people), so nothing is reported for it.
    """
    from bench.studies.loader import load_study

    study = load_study(config, model=model)
    if study.nested:
        missing = [fold.name for fold in folds if fold.name not in study.fold_overrides]
        if missing:
            raise ConfigError(f"{config}: has no configuration for fold{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(repr(m) for m in missing)} (it was tuned per outer fold for "
                              f"{', '.join(study.fold_overrides) or 'no fold'}); tune "
                              f"{'them' if len(missing) > 1 else 'it'} with bench sweep --nested on the same split scheme")
    elif not study.tuning:
        return None
    check = TuningCheck(str(config), "nested" if study.nested else "single",
                        tuned_on_fold=str(study.tuning.get("outer_fold", "")))
    corpus = study.tuning.get("corpus")
    if corpus is not None and str(corpus) != str(manifest.corpus):
        return check
    for fold in folds:
        record: dict[str, Any] = study.fold_tuning.get(fold.name, {}) if study.nested else study.tuning
        if "tuned_on_speakers" not in record:
            continue
        check.checked.append(fold.name)
        seen = set(record["tuned_on_speakers"]) & _speakers(manifest, fold_ids[fold.name].get("test", []))
        if seen:
            check.leaks[fold.name] = sorted(seen)
    return check
