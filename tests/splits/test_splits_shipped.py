"""Every shipped split: speaker-disjoint, covers the corpus, tests each speaker once where promised."""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from bench.splits import get_scheme, list_schemes, shipped_schemes
from bench.data.corpora.cremad import GENDERS as CREMAD_GENDERS
from bench.data.corpora.ravdess import GENDERS as RAVDESS_GENDERS
from bench.splits.kfold import SCHEMES_DIR, shipped_files

CREMAD_ACTORS = {str(a) for a in range(1001, 1092)}
RAVDESS_ACTORS = {str(a) for a in range(1, 25)}
SESSIONS = {str(s) for s in range(1, 7)}

# Pinned: a change to a shipped file changes every result's recorded split checksum.
CHECKSUMS = {
    ("cremad", "vavl"): "df6b023fd3e081b463a2ec5550fac786e7951ecd7ba63e9951dc389efede674c",
    ("cremad", "kfold"): "66c00c3a0d1095252db4a8c5fc19df5b2e311f890723a702f5f95071abc6fb15",
    ("ravdess", "saf"): "b0a73dc43cb79ff3ed5d0106d0f4c061827e9b491fc7f63915f2857f92880489",
    ("ravdess", "kfold6"): "391a6e04a769183b4b16eb08017a6d3bdd3ccf9eb49f6c43c19d6bdc92bcdf88",
    ("mspimprov", "loso"): "88062add1fda0510ab9c7bd26ad249a472a36e6e180fb369cd3e5d24c2c8038f",
    ("cremad", "hicmae5"): "e378a606f490e9a839fd7f78608b89c55ac3bb2a6ea049018668cbbe7cba8f05",
    ("ravdess", "hicmae6"): "f0416f529babe065e23a3f9ffa21e0a2c784c401524cffe0f9e8fe9ea4bb11a4",
    ("mspimprov", "hicmae6"): "4e8a067036a3c9fb4ba5954c88209dc5f25bb828b615af706b4167fa50e6e28b",
}
UNIVERSE = {"cremad": CREMAD_ACTORS, "ravdess": RAVDESS_ACTORS, "mspimprov": SESSIONS}


def test_shipped_set_and_defaults():
    assert set(shipped_schemes()) == set(CHECKSUMS)
    assert list_schemes("cremad")[0] == "vavl" and list_schemes("ravdess")[0] == "saf"
    assert list_schemes("mspimprov") == ["loso", "hicmae6"] and list_schemes("synthetic") == ["kfold"]


@pytest.mark.parametrize("dataset,name", sorted(CHECKSUMS))
def test_disjoint_and_covering(dataset, name):
    scheme = get_scheme(dataset, name)
    assert scheme.checksum == CHECKSUMS[(dataset, name)]
    assert scheme.checksum == hashlib.sha256((SCHEMES_DIR / shipped_schemes()[(dataset, name)]).read_bytes()).hexdigest()
    assert scheme.group_by == ("session" if dataset == "mspimprov" else "speaker")
    for fold in scheme.folds:
        train, val, test = set(fold.train), set(fold.val), set(fold.test)
        assert not (train & val) and not (train & test) and not (val & test), fold.name
        assert train | val | test == UNIVERSE[dataset], fold.name
        assert len(train) + len(val) + len(test) == len(UNIVERSE[dataset])


@pytest.mark.parametrize("dataset,name,k", [("cremad", "kfold", 5), ("ravdess", "kfold6", 6), ("mspimprov", "loso", 6),
                                            ("cremad", "hicmae5", 5), ("ravdess", "hicmae6", 6), ("mspimprov", "hicmae6", 6)])
def test_every_group_tested_exactly_once(dataset, name, k):
    scheme = get_scheme(dataset, name)
    assert len(scheme.folds) == k
    tested = Counter(g for fold in scheme.folds for g in fold.test)
    assert set(tested) == UNIVERSE[dataset] and set(tested.values()) == {1}
    if not name.startswith("hicmae"):  # HiCMAE's validation parts are drawn per fold, not cycled
        validated = Counter(g for fold in scheme.folds for g in fold.val)
        assert set(validated) == UNIVERSE[dataset] and set(validated.values()) == {1}


def test_kfolds_are_gender_balanced():
    for fold in get_scheme("cremad", "kfold").folds:
        for part in (fold.test, fold.val):
            women = sum(CREMAD_GENDERS[a] == "F" for a in part)
            assert abs(women - 43 / 5) < 1 and abs((len(part) - women) - 48 / 5) < 1
    for fold in get_scheme("ravdess", "kfold6").folds:
        for part in (fold.test, fold.val):
            assert Counter(RAVDESS_GENDERS[a] for a in part) == {"M": 2, "F": 2}


def test_cremad_genders_match_the_published_counts():
    assert set(CREMAD_GENDERS) == CREMAD_ACTORS
    assert Counter(CREMAD_GENDERS.values()) == {"M": 48, "F": 43}
    assert CREMAD_GENDERS["1001"] == "M" and CREMAD_GENDERS["1002"] == "F" and CREMAD_GENDERS["1091"] == "F"


def test_generated_files_regenerate_byte_identical():
    for name, text in shipped_files().items():
        assert (SCHEMES_DIR / name).read_text() == text, f"{name} differs from `python -m bench.splits`"


# The facts gathered in the project's shared folder, beside the repository (as CI lays it out).
REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "splits.toml"

# (dataset, scheme, reference section, key suffix, folds we ship beyond the published ones).
# MSP-IMPROV: five partitions are published; our sixth completes leave-one-session-out.
PUBLISHED = [("cremad", "vavl", "cremad_vavl", "", 0), ("ravdess", "saf", "ravdess_saf", "", 0),
             ("mspimprov", "loso", "mspimprov_vavl", "_sessions", 1)]


def _reference() -> dict:
    if not REFERENCE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must check the published folds, but {REFERENCE} is missing", pytrace=False)
        pytest.skip(f"{REFERENCE} is not beside this checkout")
    return tomllib.loads(REFERENCE.read_text())


@pytest.mark.parametrize("dataset,name,section,suffix,extra", PUBLISHED)
def test_published_folds_match_the_reference(dataset, name, section, suffix, extra):
    ref = _reference()[section]
    scheme = get_scheme(dataset, name)
    # Counted first: zip would silently drop a fold that one side lacks.
    assert len(scheme.folds) == len(ref) + extra, f"{dataset}/{name}: {len(scheme.folds)} folds, reference {len(ref)}"
    for fold, (ref_name, ref_fold) in zip(scheme.folds, ref.items(), strict=False):
        assert fold.name == ref_name
        for part in ("train", "val", "test"):
            assert fold.__dict__[part] == [str(v) for v in ref_fold[part + suffix]], (fold.name, part)


def test_published_properties_without_the_reference():
    vavl = get_scheme("cremad", "vavl")
    assert [(len(f.train), len(f.val), len(f.test)) for f in vavl.folds] == [(63, 14, 14)] * 5
    saf = get_scheme("ravdess", "saf")
    assert [f.test for f in saf.folds] == [[str(a) for a in range(4 * i + 1, 4 * i + 5)] for i in range(5)]
    kfold6 = get_scheme("ravdess", "kfold6")
    assert [f.to_dict() for f in kfold6.folds[:5]] == [f.to_dict() for f in saf.folds]
    assert kfold6.folds[5].test == ["21", "22", "23", "24"] and kfold6.folds[5].val == ["1", "2", "3", "4"]
    loso = get_scheme("mspimprov")
    assert [f.test for f in loso.folds] == [["5"], ["3"], ["2"], ["1"], ["6"], ["4"]]


# HiCMAE's published test speakers, copied from github.com/sunlicai/HiCMAE @ cdd28d481d7a,
# saved/data/<corpus>/audio_visual/splitNN/test.csv (speaker = the actor id in each clip's path;
# MSP-IMPROV: the session folder, each holding actors F0k and M0k).
HICMAE_PUBLISHED_TEST = {
    "cremad": [
        ["1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009", "1010", "1011", "1012", "1013", "1014", "1015", "1016", "1017", "1018"],
        ["1019", "1020", "1021", "1022", "1023", "1024", "1025", "1026", "1027", "1028", "1029", "1030", "1031", "1032", "1033", "1034", "1035", "1036"],
        ["1037", "1038", "1039", "1040", "1041", "1042", "1043", "1044", "1045", "1046", "1047", "1048", "1049", "1050", "1051", "1052", "1053", "1054"],
        ["1055", "1056", "1057", "1058", "1059", "1060", "1061", "1062", "1063", "1064", "1065", "1066", "1067", "1068", "1069", "1070", "1071", "1072"],
        ["1073", "1074", "1075", "1076", "1077", "1078", "1079", "1080", "1081", "1082", "1083", "1084", "1085", "1086", "1087", "1088", "1089", "1090", "1091"],
    ],
    "ravdess": [["1", "2", "3", "4"], ["5", "6", "7", "8"], ["9", "10", "11", "12"], ["13", "14", "15", "16"],
                ["17", "18", "19", "20"], ["21", "22", "23", "24"]],
    "mspimprov": [["1"], ["2"], ["3"], ["4"], ["5"], ["6"]],
}


@pytest.mark.parametrize("dataset,name", [("cremad", "hicmae5"), ("ravdess", "hicmae6"), ("mspimprov", "hicmae6")])
def test_hicmae_folds_test_the_published_speakers(dataset, name):
    scheme = get_scheme(dataset, name)
    assert [f.name for f in scheme.folds] == [f"split{i:02d}" for i in range(1, len(HICMAE_PUBLISHED_TEST[dataset]) + 1)]
    assert [f.test for f in scheme.folds] == HICMAE_PUBLISHED_TEST[dataset]
    # HiCMAE trains on every non-test speaker: our train + val is exactly that set.
    for fold in scheme.folds:
        assert set(fold.train) | set(fold.val) == UNIVERSE[dataset] - set(fold.test)
    assert scheme.extra["source_repo"] == "github.com/sunlicai/HiCMAE" and len(scheme.extra["source_commit"]) == 40
    assert "no separate validation set" in scheme.description


def test_hicmae_validation_is_drawn_gender_balanced_and_differs_per_fold():
    for dataset, genders, n in (("cremad", CREMAD_GENDERS, 7), ("ravdess", RAVDESS_GENDERS, 2)):
        scheme = get_scheme(dataset, "hicmae5" if dataset == "cremad" else "hicmae6")
        for fold in scheme.folds:
            assert Counter(genders[a] for a in fold.val) == {"F": n, "M": n}, fold.name
        assert len({tuple(f.val) for f in scheme.folds}) == len(scheme.folds)  # a fresh draw per fold
    msp = get_scheme("mspimprov", "hicmae6")
    assert all(len(f.val) == 1 and len(f.train) == 4 for f in msp.folds)
