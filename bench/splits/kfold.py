"""Speaker k-fold schemes: every speaker tested exactly once, validation drawn from the rest.

The recipe, the same for the shipped files and for schemes generated from a manifest:

1. Group speakers by gender (F, M, then unknown) and order each group by
   ``sha256(f"{seed}:{speaker}")``: a shuffle that depends on nothing but the seed and the ids
   (no library RNG whose stream could change between versions).
2. Deal the concatenated list round-robin into ``k`` folds, so each gender is spread as evenly
   as it can be (fold sizes per gender differ by at most one).
3. Fold ``i`` tests the speakers dealt to ``i``, validates on those dealt to ``i+1`` (cyclically,
   so every speaker is also validated exactly once and validation is gender-balanced too) and
   trains on the other ``k-2`` parts.

``python -m bench.splits`` rewrites the shipped files from this module (a test checks that
the result is byte-identical to what ships): ``cremad_kfold.toml`` (k=5, seed 0, the 91 actors'
genders from the CREMA-D adapter, :mod:`bench.data.corpora.cremad`), ``ravdess_kfold6.toml`` (six contiguous folds of four
actors, the SAF folds extended by a sixth, see :func:`ravdess_kfold6`) and the three HiCMAE
schemes of :mod:`bench.splits.published`.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

from bench.errors import ConfigError
from bench.io import write_text
from bench.splits.scheme import Fold, SplitScheme, corpus_groups, id_sort_key, norm_id, render_toml

SCHEMES_DIR = Path(__file__).parent / "schemes"


def _shuffle_key(seed: int, group: str) -> str:
    return hashlib.sha256(f"{seed}:{group}".encode("utf-8")).hexdigest()


def cyclic_folds(parts: Sequence[Sequence[str]], group_by: str = "speaker", prefix: str = "fold") -> list[Fold]:
    """Fold i tests ``parts[i]``, validates on ``parts[i+1 mod k]``, trains on the rest."""
    k = len(parts)
    if k < 3:
        raise ConfigError(f"a k-fold scheme with validation needs k >= 3, got {k}")
    folds = []
    for i in range(k):
        val_i = (i + 1) % k
        train = [g for j, part in enumerate(parts) if j not in (i, val_i) for g in part]
        folds.append(Fold(f"{prefix}{i + 1}", train, list(parts[val_i]), list(parts[i]), group_by))
    return folds


def deal(groups: Mapping[str, str], k: int, seed: int) -> list[list[str]]:
    """Split ``groups`` (id -> gender or "") into ``k`` gender-balanced parts (steps 1-2 above)."""
    order = []
    genders = sorted({g for g in groups.values()}, key=lambda g: (g == "", g))
    for gender in genders:
        members = [s for s, g in groups.items() if g == gender]
        order += sorted(members, key=lambda s: _shuffle_key(seed, s))
    parts: list[list[str]] = [[] for _ in range(k)]
    for position, group in enumerate(order):
        parts[position % k].append(group)
    return parts


def generate_kfold(
    groups: Mapping[str, str],
    dataset: str,
    *,
    k: int = 5,
    seed: int = 0,
    name: str = "kfold",
    group_by: str = "speaker",
    source: str = "",
) -> SplitScheme:
    """A k-fold scheme over ``groups`` (id -> gender, "" when unknown); see the module docstring."""
    groups = {norm_id(s): (g or "") for s, g in groups.items()}
    if len(groups) < k:
        raise ConfigError(f"{dataset}: {k} folds need at least {k} {group_by}s, have {len(groups)}")
    folds = cyclic_folds(deal(groups, k, seed), group_by)
    counts = Counter(groups.values())
    balance = ", ".join(f"{g or 'unknown'} {n}" for g, n in sorted(counts.items()))
    description = (f"{k}-fold by {group_by}: every {group_by} tested once, validation = the next fold's test "
                   f"{group_by}s; dealt round-robin within gender ({balance}) "
                   "in sha256(seed:id) order")
    return SplitScheme(name, dataset, folds, source=source or f"generated: k={k} seed={seed}",
                       description=description, extra={"k": k, "seed": seed})


def groups_from_manifest(manifest) -> dict[str, str]:
    """``speaker -> gender`` from a manifest; a speaker with conflicting genders counts as unknown."""
    frame = manifest.frame
    out: dict[str, str] = {}
    conflicting = []
    for speaker, genders in frame.groupby("speaker")["gender"]:
        known = set(genders) - {""}
        if len(known) > 1:
            conflicting.append(speaker)
        out[str(speaker)] = known.pop() if len(known) == 1 else ""
    if conflicting:
        warnings.warn(f"{manifest.corpus}: speakers {conflicting} have several genders; treated as unknown for balancing")
    return out


def scheme_from_manifest(manifest, dataset: str, *, k: int | None = None, seed: int = 0) -> SplitScheme:
    """A speaker k-fold over a manifest (k=5 default, fewer when the manifest has fewer speakers)."""
    groups = groups_from_manifest(manifest)
    if k is None:
        k = 5
        if len(groups) < k:
            if len(groups) < 3:
                raise ConfigError(f"{dataset}: a speaker k-fold needs at least 3 speakers, manifest has {len(groups)}")
            warnings.warn(f"{dataset}: only {len(groups)} speakers; using k={len(groups)} folds instead of 5")
            k = len(groups)
    return generate_kfold(groups, dataset, k=k, seed=seed,
                          source=f"generated from the {manifest.corpus} manifest ({len(manifest)} clips): k={k} seed={seed}")


def cremad_kfold(k: int = 5, seed: int = 0) -> SplitScheme:
    return generate_kfold(corpus_groups("cremad"), "cremad", k=k, seed=seed,
                          source=f"generated: k={k} seed={seed} over the 91 actors (genders from VideoDemographics.csv)")


def ravdess_kfold6() -> SplitScheme:
    """Six folds of four consecutive actors (2 male, 2 female each); validation = the next four.

    Folds 1-5 are exactly the published SAF folds; fold 6 adds the one SAF never has, testing
    actors 21-24 and validating on 1-4, so every actor is tested (and validated) exactly once.
    """
    actors = sorted(corpus_groups("ravdess"), key=int)
    parts = [actors[i:i + 4] for i in range(0, 24, 4)]
    return SplitScheme("kfold6", "ravdess", cyclic_folds(parts),
                       source="generated: bench.splits.kfold.ravdess_kfold6",
                       description="six folds of four consecutive actors (2 M / 2 F); validation = next four; "
                                   "folds 1-5 equal the SAF folds", extra={"k": 6})


HEADER = """Generated by `python -m bench.splits` (bench/splits/kfold.py); do not edit by hand:
the checksum of this file identifies the folds every result was scored on."""


def shipped_files() -> dict[str, str]:
    """File name -> text of every generated scheme that ships with the package.

    Besides the k-folds: the HiCMAE folds (:mod:`bench.splits.published`), generated too because
    their validation parts are drawn by recipe.
    """
    from bench.splits.published import hicmae_files

    return {
        "cremad_kfold.toml": render_toml(cremad_kfold(5, 0), HEADER),
        "ravdess_kfold6.toml": render_toml(ravdess_kfold6(), HEADER),
        **hicmae_files(),
    }


def write_shipped_files() -> list[Path]:
    """(Re)write the generated scheme files inside the package; ``python -m bench.splits``."""
    written = []
    for name, text in shipped_files().items():
        written.append(write_text(SCHEMES_DIR / name, text))
    return written


__all__ = ["cyclic_folds", "deal", "generate_kfold", "scheme_from_manifest", "groups_from_manifest",
           "cremad_kfold", "ravdess_kfold6", "shipped_files", "write_shipped_files", "id_sort_key"]
