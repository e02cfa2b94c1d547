"""Official partitions that a corpus ships in its own folder layout: Aff-Wild2's ABAW sets.

``affwild2/official`` (one fold, ``abaw``), generated from a manifest (its ``partition`` column,
which the Aff-Wild2 adapter fills from the annotation folder each track sits in):

- test: every video of ``Validation_Set``. The challenge's test labels are not public, so the
  validation set is where ABAW papers, RJA among them, report their numbers.
- val: ``val_fraction`` of the ``Train_Set`` videos (at least one), the first in
  ``sha256(f"{seed}:abaw:{video}")`` order: deterministic, depending on nothing but the names.
- train: the other ``Train_Set`` videos.

Deviation from RJA's official code (praveena2j/RecurrentJointAttentionwithLSTMs and its
predecessor Joint-Cross-Attention-for-Audio-Visual-Fusion, ``main.py``): it trains on Train_Set
and keeps the epoch with the best CCC on Validation_Set, the same set it reports, so selection
sees the test set. Here selection never sees the test videos: validation is drawn from
Train_Set, as stated in the scheme's description.

Groups are videos (the manifest's ``speaker``), so both tracks of a two-subject video, which
share one sound track, always fall in the same part.
"""

from __future__ import annotations

import hashlib
import math

from bench.errors import ConfigError
from bench.splits.scheme import Fold, SplitScheme

TRAIN, TEST = "Train_Set", "Validation_Set"
RJA_REPO = "github.com/praveena2j/RecurrentJointAttentionwithLSTMs"


def _key(seed: int, video: str) -> str:
    return hashlib.sha256(f"{seed}:abaw:{video}".encode("utf-8")).hexdigest()


def abaw_scheme(manifest, dataset: str = "affwild2", *, seed: int = 0, val_fraction: float = 0.2) -> SplitScheme:
    """The official ABAW partition of ``manifest`` as a one-fold scheme (see the module docstring)."""
    frame = manifest.frame
    if "partition" not in frame.columns:
        raise ConfigError(f"{dataset}/official needs the manifest's 'partition' column (Train_Set / Validation_Set), "
                          "which the affwild2 adapter writes; this manifest has none")
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"{dataset}/official: val_fraction must be in (0, 1), got {val_fraction}")
    by_video: dict[str, set[str]] = {}
    for video, partition in zip(frame["speaker"].astype(str), frame["partition"].astype(str)):
        by_video.setdefault(video, set()).add(partition)
    mixed = sorted(v for v, parts in by_video.items() if len(parts) > 1)
    if mixed:
        raise ConfigError(f"{dataset}/official: videos {mixed[:5]} have tracks in both Train_Set and Validation_Set; "
                          "their shared sound would leak between training and test")
    unknown = sorted({p for parts in by_video.values() for p in parts} - {TRAIN, TEST})
    if unknown:
        raise ConfigError(f"{dataset}/official: unknown partition values {unknown}; expected {TRAIN} or {TEST}")
    train_videos = sorted((v for v, p in by_video.items() if TRAIN in p), key=lambda v: _key(seed, v))
    test = sorted(v for v, p in by_video.items() if TEST in p)
    if len(train_videos) < 2 or not test:
        raise ConfigError(f"{dataset}/official needs at least 2 {TRAIN} videos and 1 {TEST} video; the manifest has "
                          f"{len(train_videos)} and {len(test)}")
    n_val = min(len(train_videos) - 1, max(1, math.ceil(val_fraction * len(train_videos))))
    val, train = train_videos[:n_val], train_videos[n_val:]
    description = (f"ABAW's official partition of {dataset} (VA track): test = the {len(test)} {TEST} videos (the "
                   f"challenge's test labels are not public; ABAW papers, RJA's among them, report on {TEST}); "
                   f"validation = {n_val} of the {len(train_videos)} {TRAIN} videos drawn in sha256(seed:abaw:video) "
                   f"order (seed {seed}, fraction {val_fraction}), train = the rest. Deviation: RJA's official code "
                   f"({RJA_REPO}) selects its epoch on {TEST} itself; here selection never sees the test videos. "
                   "Groups are videos: both tracks of a two-subject video stay together")
    fold = Fold("abaw", train, val, test, "speaker")
    return SplitScheme("official", dataset, [fold], source=f"generated from the {manifest.corpus} manifest's partition column "
                       f"({len(manifest)} tracks): seed={seed} val_fraction={val_fraction}", description=description,
                       extra={"seed": seed, "val_fraction": val_fraction})


# (dataset, scheme) -> builder(manifest, dataset, seed=...): schemes generated from a manifest's
# own partition column rather than shipped as files.
GENERATED = {("affwild2", "official"): abaw_scheme}

__all__ = ["GENERATED", "abaw_scheme"]
