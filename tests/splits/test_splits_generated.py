"""Generated k-fold schemes, Fold.assign on replica manifests, and the splits/manifest commands."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.data.corpora import build_manifest
from bench.data.manifest import Manifest
from bench.errors import ConfigError
from bench.splits import Fold, SplitWarning, get_scheme
from bench.splits.kfold import generate_kfold


def toy_manifest(speakers: dict[str, str], clips_per_speaker: int = 3, corpus: str = "manifest") -> Manifest:
    rows = [{"clip_id": f"{s}_{i}", "corpus": corpus, "speaker": s, "gender": g, "session": "",
             "label": "happy" if i % 2 else "sad", "video_path": f"{s}_{i}.mp4", "audio_path": ""}
            for s, g in speakers.items() for i in range(clips_per_speaker)]
    return Manifest(pd.DataFrame(rows), corpus, ("happy", "sad"))


def ravdess_replica(root, actors=range(1, 25)):
    for actor in actors:
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        for emotion in ("01", "03", "05"):
            for statement in ("01", "02"):
                (folder / f"01-01-{emotion}-01-{statement}-01-{actor:02d}.mp4").touch()
                (folder / f"02-01-{emotion}-01-{statement}-01-{actor:02d}.mp4").touch()
    return root


def test_manifest_kfold_is_deterministic_balanced_and_tests_everyone_once():
    speakers = {f"spk{i:02d}": ("F" if i < 7 else "M") for i in range(17)}
    manifest = toy_manifest(speakers)
    a = get_scheme("manifest", manifest=manifest)
    b = get_scheme("manifest", manifest=toy_manifest(dict(reversed(list(speakers.items())))))
    assert a.name == "kfold" and len(a.folds) == 5
    assert a.checksum == b.checksum and a.canonical_json() == b.canonical_json()  # order of rows is irrelevant
    assert get_scheme("manifest", manifest=manifest, seed=1).checksum != a.checksum
    assert Counter(s for f in a.folds for s in f.test) == Counter(list(speakers))
    for fold in a.folds:
        assert not set(fold.train) & set(fold.test) and not set(fold.val) & (set(fold.train) | set(fold.test))
        women = sum(speakers[s] == "F" for s in fold.test)
        assert women in (1, 2)  # 7 women over 5 folds
    assert a.to_dict()["checksum"] == a.checksum and "k=5 seed=0" in a.source


def test_generated_needs_a_manifest_and_enough_speakers():
    with pytest.raises(ConfigError, match="manifest="):
        get_scheme("synthetic")
    with pytest.warns(UserWarning, match="k=4"):
        scheme = get_scheme("synthetic", manifest=toy_manifest({"1": "F", "2": "M", "3": "F", "4": "M"}, corpus="synthetic"))
    assert len(scheme.folds) == 4
    with pytest.raises(ConfigError, match="at least 6"):
        get_scheme("manifest", manifest=toy_manifest({"1": "F", "2": "M", "3": "F"}), k=6)
    with pytest.raises(ConfigError, match="did you mean saf"):
        get_scheme("ravdess", "sad")
    with pytest.raises(ConfigError, match="fixed folds"):
        get_scheme("ravdess", "saf", k=3)


def test_cremad_kfold_other_k_is_generated_from_known_genders():
    shipped = get_scheme("cremad", "kfold")
    assert shipped.source.endswith("cremad_kfold.toml")
    assert get_scheme("cremad", "kfold", seed=0, k=5).checksum == shipped.checksum
    other = get_scheme("cremad", "kfold", k=7)
    assert len(other.folds) == 7 and other.source.startswith("generated")
    assert Counter(s for f in other.folds for s in f.test) == Counter(str(a) for a in range(1001, 1092))


def test_fold_assign_on_a_ravdess_replica(tmp_path):
    manifest = build_manifest("ravdess", ravdess_replica(tmp_path))
    assert len(manifest) == 24 * 6
    for name in ("saf", "kfold6"):
        scheme = get_scheme("ravdess", name)
        for fold in scheme.folds:
            ids = fold.assign(manifest)
            speaker = manifest.frame.set_index("clip_id")["speaker"]
            parts = {p: set(speaker[ids[p]]) for p in ids}
            assert parts["test"] == set(fold.test) and parts["val"] == set(fold.val) and parts["train"] == set(fold.train)
            assert sum(len(v) for v in ids.values()) == len(manifest)  # every clip placed exactly once
            assert len(set().union(*map(set, ids.values()))) == len(manifest)


def test_fold_assign_by_session_and_errors():
    rows = [{"clip_id": f"c{s}{g}", "corpus": "mspimprov", "speaker": f"{g}{s:02d}", "gender": g, "session": str(s),
             "label": "sad", "video_path": "x.avi", "audio_path": ""} for s in range(1, 7) for g in "FM"]
    manifest = Manifest(pd.DataFrame(rows), "mspimprov", ("neutral", "happy", "sad", "angry"))
    fold = get_scheme("mspimprov").folds[0]
    assert fold.assign(manifest) == {"train": ["c1F", "c1M", "c2F", "c2M", "c3F", "c3M", "c6F", "c6M"],
                                     "val": ["c4F", "c4M"], "test": ["c5F", "c5M"]}
    subset = manifest.subset([c for c in manifest.frame["clip_id"] if not c.startswith("c5")])
    with pytest.raises(ConfigError, match=r"no clip .* falls in \['test'\]"):
        fold.assign(subset)
    partial = Fold("f", ["1", "2"], ["3"], ["4"], "session")
    with pytest.warns(SplitWarning, match="4 clips of sessions"):
        partial.assign(manifest)
    with pytest.raises(ConfigError, match="both train and test"):
        Fold("bad", ["1", "2"], ["3"], ["2"])


def test_ids_are_normalised():
    fold = Fold("f", ["01", "2"], ["03"], ["4"])
    assert fold.train == ["1", "2"] and fold.val == ["3"]
    scheme = generate_kfold({"01": "F", "02": "M", "03": "F"}, "x", k=3)
    assert sorted(s for f in scheme.folds for s in f.test) == ["1", "2", "3"]


def test_splits_and_manifest_commands(tmp_path, monkeypatch):
    from bench.cli import _load_commands, app

    _load_commands()
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    result = runner.invoke(app, ["splits", "--dataset", "ravdess", "--scheme", "kfold6", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["checksum"] == get_scheme("ravdess", "kfold6").checksum and len(data["folds"]) == 6
    result = runner.invoke(app, ["splits", "--dataset", "mspimprov"])
    assert result.exit_code == 0 and "partition6" in result.output and "sha256" in result.output

    root = ravdess_replica(tmp_path / "rav", actors=range(1, 7))
    (root / "Actor_01" / "oops.mp4").touch()
    result = runner.invoke(app, ["manifest", "--dataset", "ravdess", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert "36 clips" in result.output and "oops.mp4" in result.output
    saved = Manifest.load(tmp_path / "home" / "manifests" / "ravdess.csv")
    assert len(saved) == 36
    result = runner.invoke(app, ["manifest", "--dataset", "ravdess", "--root", str(root), "--strict"])
    assert result.exit_code != 0 and "oops.mp4" in str(result.exception)
    result = runner.invoke(app, ["splits", "--dataset", "synthetic", "--root", str(root), "--json"])
    assert result.exit_code != 0  # no synthetic_meta.csv: a clear error, not a guess
    result = runner.invoke(app, ["splits", "--dataset", "ravdess", "--scheme", "kfold", "--root", str(root), "--k", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(s for f in json.loads(result.output)["folds"] for s in f["test"]) == ["1", "2", "3", "4", "5", "6"]
