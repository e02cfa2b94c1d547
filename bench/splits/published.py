"""Fold lists published with HiCMAE, shipped as split schemes with a validation part added.

HiCMAE (Sun, Lian, Liu, Tao; Information Fusion 2024; github.com/sunlicai/HiCMAE) publishes
its folds as annotation files, ``saved/data/<corpus>/audio_visual/splitNN/{train,test,val}.csv``,
one clip per line (``<face folder> <wav file> <class index>``). The speaker (or session) of
every clip is in its path, so the test speakers of each fold are facts read off those files
(once, by a throw-away script; the CSV files are not copied here). They are:

``cremad/hicmae5``
    five folds of consecutive actors: 1001-1018, 1019-1036, 1037-1054, 1055-1072, 1073-1091
    (the last fold has 19). Labels are the acted emotion of the file name, six classes; the
    files list 7,437 clips (HiCMAE's ``preprocess/creamd_av.py`` drops four broken ones).
``ravdess/hicmae6``
    six folds of four consecutive actors, 1-4, ..., 21-24: the same test actors as
    ``ravdess/kfold6``; speech, eight classes, 1,440 trials.
``mspimprov/hicmae6``
    leave-one-session-out, fold k tests session k (its two actors, F0k and M0k); four classes,
    7,787 clips. HiCMAE's ``val.csv`` of every fold is byte-identical to its ``test.csv``: the
    test session doubles as validation set there.

HiCMAE trains on every non-test speaker and has no validation set. Selection here never sees
test speakers, so each fold of our schemes draws its validation speakers from that fold's
training speakers -- a documented deviation, stated in each scheme's description:
gender-balanced (``n_per_gender`` of each gender, genders from the corpus adapters), in
``sha256(f"{seed}:{fold}:{id}")`` order within each gender, so the draw depends on nothing but
the ids and differs from fold to fold. CREMA-D draws 7 F + 7 M (the size of the VAVL
development sets), RAVDESS 2 F + 2 M (the size of the SAF validation folds), MSP-IMPROV one
session (each session is one female and one male actor). Test speakers are exactly HiCMAE's.

``python -m bench.splits`` writes the three files from this module; a test checks that the
shipped files are byte-identical to it, and another checks the test speakers against literal
copies of the published lists.
"""

from __future__ import annotations

import hashlib
from typing import Mapping, Sequence

from bench.errors import ConfigError
from bench.splits.scheme import Fold, SplitScheme, corpus_groups, render_toml

HICMAE_REPO = "github.com/sunlicai/HiCMAE"
HICMAE_COMMIT = "cdd28d481d7a03fe6cd5d27e968f51ec20d892a4"  # the snapshot the lists were read from
# The commit that last changed each corpus's split folder (all before HICMAE_COMMIT).
HICMAE_DATA_COMMITS = {
    "cremad": "70a78080aa2cbf60556d7311437bf99757ab716d",
    "ravdess": "6efb83cad7169243b2c4e902152c48751b42d6c9",
    "mspimprov": "3cb918c77166dfc1a25a534dd999d80776805432",
}
HICMAE_FOLDERS = {"cremad": "crema-d", "ravdess": "ravdess", "mspimprov": "msp-improv"}


def _ids(first: int, last: int) -> list[str]:
    return [str(i) for i in range(first, last + 1)]


# Test speakers (sessions for MSP-IMPROV) of splitNN/test.csv, in fold order.
HICMAE_TEST: dict[str, list[list[str]]] = {
    "cremad": [_ids(1001, 1018), _ids(1019, 1036), _ids(1037, 1054), _ids(1055, 1072), _ids(1073, 1091)],
    "ravdess": [_ids(4 * i + 1, 4 * i + 4) for i in range(6)],
    "mspimprov": [[str(s)] for s in range(1, 7)],
}


def _key(seed: int, fold: str, group: str) -> str:
    return hashlib.sha256(f"{seed}:{fold}:{group}".encode("utf-8")).hexdigest()


def draw_validation(train: Sequence[str], genders: Mapping[str, str], n_per_gender: int, *, fold: str, seed: int = 0) -> list[str]:
    """``n_per_gender`` ids of each gender among ``train``, first in ``sha256(seed:fold:id)`` order.

    Ids without a gender form one group of their own ("" -- e.g. sessions, each of which is
    already one woman and one man). A gender with too few training ids is an error, not a
    smaller draw, so a scheme never silently loses its balance.
    """
    chosen: list[str] = []
    for gender in sorted({genders.get(t, "") for t in train}):
        members = sorted((t for t in train if genders.get(t, "") == gender), key=lambda t: _key(seed, fold, t))
        if len(members) < n_per_gender:
            raise ConfigError(f"fold {fold}: only {len(members)} training ids of gender {gender or 'unknown'!r}, "
                              f"cannot draw {n_per_gender}")
        chosen += members[:n_per_gender]
    return chosen


def hicmae_scheme(dataset: str, *, seed: int = 0) -> SplitScheme:
    """The HiCMAE folds of ``dataset`` (cremad, ravdess, mspimprov) with drawn validation parts."""
    if dataset not in HICMAE_TEST:
        raise ConfigError(f"HiCMAE publishes no folds for {dataset!r}; it does for {sorted(HICMAE_TEST)}")
    tests = HICMAE_TEST[dataset]
    if dataset == "mspimprov":
        universe, genders, n, group_by = list(corpus_groups(dataset)), {}, 1, "session"
        drawn = "one of the five training sessions (each session is one female and one male actor)"
    else:
        genders = corpus_groups(dataset)
        universe, n, group_by = list(genders), (7 if dataset == "cremad" else 2), "speaker"
        drawn = f"{n} female + {n} male training actors"
    folds = []
    for i, test in enumerate(tests):
        name = f"split{i + 1:02d}"
        rest = [g for g in universe if g not in set(test)]
        val = draw_validation(rest, genders, n, fold=name, seed=seed)
        folds.append(Fold(name, [g for g in rest if g not in set(val)], val, test, group_by))
    test_note = {
        "cremad": "consecutive actor blocks 1001-1018, 1019-1036, 1037-1054, 1055-1072, 1073-1091; acted labels, 6 classes",
        "ravdess": "four consecutive actors per fold (the test actors of ravdess/kfold6); speech, 8 classes",
        "mspimprov": "fold k tests session k; HiCMAE's val.csv equals its test.csv (the test session doubles as "
                     "validation there); 4 classes",
    }[dataset]
    description = (f"HiCMAE's {len(folds)} published folds ({HICMAE_REPO} @ {HICMAE_COMMIT[:12]}, "
                   f"saved/data/{HICMAE_FOLDERS[dataset]}/audio_visual/splitNN): test {group_by}s exactly as published, "
                   f"{test_note}. Deviation: HiCMAE has no separate validation set; here each fold validates on "
                   f"{drawn}, drawn in sha256(seed:fold:id) order (seed {seed}), and trains on the rest")
    extra = {"seed": seed, "source_repo": HICMAE_REPO, "source_commit": HICMAE_COMMIT,
             "source_files": f"saved/data/{HICMAE_FOLDERS[dataset]}/audio_visual/splitNN/test.csv",
             "source_files_commit": HICMAE_DATA_COMMITS[dataset]}
    return SplitScheme(f"hicmae{len(folds)}", dataset, folds, source=f"{HICMAE_REPO}@{HICMAE_COMMIT}",
                       description=description, extra=extra)


HEADER = """Generated by `python -m bench.splits` (bench/splits/published.py); do not edit by hand:
the checksum of this file identifies the folds every result was scored on.
Test speakers: read from HiCMAE's published split files (github.com/sunlicai/HiCMAE,
commit {commit}, {files}).
Validation speakers: not published (HiCMAE has no validation set); drawn from each fold's
training speakers, gender-balanced and deterministic (see the description)."""


def hicmae_files() -> dict[str, str]:
    """File name -> text of the three HiCMAE scheme files."""
    out = {}
    for dataset in ("cremad", "ravdess", "mspimprov"):
        scheme = hicmae_scheme(dataset)
        header = HEADER.format(commit=HICMAE_COMMIT, files=scheme.extra["source_files"].replace(
            "test.csv", "{train,val,test}.csv" if dataset == "mspimprov" else "{train,test}.csv"))
        out[f"{dataset}_{scheme.name}.toml"] = render_toml(scheme, header)
    return out


__all__ = ["HICMAE_REPO", "HICMAE_COMMIT", "HICMAE_TEST", "draw_validation", "hicmae_scheme", "hicmae_files"]
