"""User-supplied split schemes: read from TOML or CSV, refused when they leak, before training."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.data.manifest import Manifest
from bench.errors import ConfigError
from bench.splits import SplitWarning, get_scheme

ACTORS = [str(a) for a in range(1001, 1092)]


def ogm_ge_style_leaky_split(tmp_path):
    """CREMA-D split by clip, not by actor (as OGM-GE's train/test lists are): every actor has
    clips on both sides, so the 'test' actors are also training actors."""
    lines = ["fold,part,speaker"]
    lines += [f"clipsplit,train,{a}" for a in ACTORS]
    lines += [f"clipsplit,val,{a}" for a in ACTORS[:5]]
    lines += [f"clipsplit,test,{a}" for a in ACTORS[:3]]
    path = tmp_path / "ogm_ge_cremad.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_split_that_shares_speakers_is_refused_naming_them(tmp_path):
    path = ogm_ge_style_leaky_split(tmp_path)
    with pytest.raises(ConfigError) as err:
        get_scheme("cremad", str(path))
    message = str(err.value)
    assert str(path) in message and "['1001', '1002', '1003', '1004', '1005']" in message
    assert "both train and val" in message and "refused" in message

    toml = tmp_path / "leaky.toml"
    toml.write_text('[[folds]]\nname = "f1"\ntrain = ["1001", "1002", "1003"]\nval = ["1004"]\ntest = ["1003", "1005"]\n')
    with pytest.raises(ConfigError, match=r"leaky.toml: fold f1: speakers \['1003'\] are in both train and test"):
        get_scheme("cremad", str(toml))


def test_a_clean_user_scheme_loads_with_its_file_checksum(tmp_path):
    path = tmp_path / "mine.csv"
    rows = ["fold,part,speaker"] + [f"a,{'test' if a in ACTORS[:10] else 'val' if a in ACTORS[10:20] else 'train'},{a}" for a in ACTORS]
    path.write_text("\n".join(rows) + "\n")
    scheme = get_scheme("cremad", str(path))
    assert scheme.name == "mine" and scheme.source == str(path) and len(scheme.folds) == 1
    assert scheme.folds[0].test == ACTORS[:10] and len(scheme.folds[0].train) == 71
    path.write_text(path.read_text().replace("a,train,1091", "a,val,1091"))
    assert get_scheme("cremad", str(path)).checksum != scheme.checksum  # the file's bytes are the identity
    with pytest.raises(ConfigError, match="k does not apply"):
        get_scheme("cremad", str(path), k=3)


def test_empty_parts_unknown_speakers_and_bad_rows_are_refused(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text('[[folds]]\nname = "f1"\ntrain = ["1", "2"]\nval = []\ntest = ["3"]\n')
    with pytest.raises(ConfigError, match=r"s.toml: fold f1: no speaker in \['val'\]"):
        get_scheme("ravdess", str(toml))
    toml.write_text('[[folds]]\nname = "f1"\ntrain = ["1", "2"]\nval = ["4"]\ntest = ["31"]\n')
    with pytest.raises(ConfigError, match=r"speakers \['31'\] are not in the ravdess corpus"):
        get_scheme("ravdess", str(toml))
    toml.write_text('dataset = "cremad"\n[[folds]]\nname = "f1"\ntrain = ["1"]\nval = ["2"]\ntest = ["3"]\n')
    with pytest.raises(ConfigError, match="for dataset 'cremad', not 'ravdess'"):
        get_scheme("ravdess", str(toml))
    csv = tmp_path / "s.csv"
    csv.write_text("fold,part,speaker\nf1,train,1\nf1,dev,2\n")
    with pytest.raises(ConfigError, match=r"s.csv: line 3: part 'dev' is not one of"):
        get_scheme("ravdess", str(csv))
    csv.write_text("fold,speaker\nf1,1\n")
    with pytest.raises(ConfigError, match="s.csv: line 1: the header needs columns fold, part"):
        get_scheme("ravdess", str(csv))
    with pytest.raises(ConfigError, match="does not exist"):
        get_scheme("ravdess", str(tmp_path / "missing.toml"))


def _manifest(labels_by_speaker: dict[str, list[str]]) -> Manifest:
    rows = [{"clip_id": f"{s}_{i}", "corpus": "manifest", "speaker": s, "gender": "", "session": "", "label": label,
             "video_path": f"{s}_{i}.mp4", "audio_path": ""}
            for s, labels in labels_by_speaker.items() for i, label in enumerate(labels)]
    return Manifest(pd.DataFrame(rows), "manifest", ("happy", "sad"))


def test_validated_against_the_manifest_with_a_warning_for_missing_test_classes(tmp_path):
    manifest = _manifest({"a": ["happy", "sad"], "b": ["happy", "sad"], "c": ["happy"], "d": ["sad"]})
    path = tmp_path / "m.csv"
    path.write_text("fold,part,speaker\nf1,train,a\nf1,val,b\nf1,test,c\nf2,train,a\nf2,val,c\nf2,test,b\n")
    with pytest.warns(SplitWarning, match=r"m.csv: fold f1: the test speakers have no clip of class\(es\) \['sad'\]"):
        scheme = get_scheme("manifest", str(path), manifest=manifest)
    assert [f.name for f in scheme.folds] == ["f1", "f2"]
    path.write_text("fold,part,speaker\nf1,train,a\nf1,val,b\nf1,test,zz\n")
    with pytest.raises(ConfigError, match=r"m.csv: fold f1: speakers \['zz'\] are not in the manifest \(4 speakers\)"):
        get_scheme("manifest", str(path), manifest=manifest)
