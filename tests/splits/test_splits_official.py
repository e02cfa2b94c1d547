"""affwild2/official: Validation_Set is the test set, validation videos are drawn from Train_Set."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.data.manifest import Manifest
from bench.errors import ConfigError
from bench.splits import get_scheme, list_schemes


def manifest(rows) -> Manifest:
    frame = pd.DataFrame([{"clip_id": c, "corpus": "affwild2", "speaker": v, "gender": "", "session": "", "label": "",
                           "video_path": f"videos/{v}.mp4", "audio_path": "", "partition": p} for c, v, p in rows])
    return Manifest(frame, "affwild2", (), ("valence", "arousal"))


ROWS = [(f"{i}-30-640x480", f"{i}-30-640x480", "Train_Set") for i in range(1, 11)]
ROWS += [("11-30-640x480_left", "11-30-640x480", "Train_Set"), ("11-30-640x480_right", "11-30-640x480", "Train_Set")]
ROWS += [(f"v{i}", f"v{i}", "Validation_Set") for i in range(3)]


def test_official_is_the_default_and_only_scheme():
    assert list_schemes("affwild2") == ["official"]


def test_test_is_validation_set_and_val_comes_from_train_set():
    m = manifest(ROWS)
    scheme = get_scheme("affwild2", manifest=m)
    fold = scheme.folds[0]
    assert scheme.name == "official" and fold.name == "abaw"
    assert fold.test == ["v0", "v1", "v2"]
    train_videos = {v for _, v, p in ROWS if p == "Train_Set"}
    assert set(fold.train) | set(fold.val) == train_videos and not set(fold.train) & set(fold.val)
    assert len(fold.val) == 3  # ceil(0.2 * 11)
    assert "Validation_Set" in scheme.description and "drawn" in scheme.description and "RJA" in scheme.description
    parts = fold.assign(m)
    # both tracks of the two-subject video land in the same part
    both = [part for part, ids in parts.items() if "11-30-640x480_left" in ids or "11-30-640x480_right" in ids]
    assert len(both) == 1 and {"11-30-640x480_left", "11-30-640x480_right"} <= set(parts[both[0]])


def test_draw_is_deterministic_and_seeded():
    m = manifest(ROWS)
    first = get_scheme("affwild2", manifest=m)
    assert get_scheme("affwild2", manifest=m).checksum == first.checksum
    others = {tuple(get_scheme("affwild2", manifest=m, seed=s).folds[0].val) for s in range(6)}
    assert len(others) > 1


def test_needs_a_manifest_with_partitions():
    with pytest.raises(ConfigError, match="read off the manifest's partition column: pass manifest="):
        get_scheme("affwild2")
    m = manifest(ROWS)
    m.frame = m.frame.drop(columns=["partition"])
    with pytest.raises(ConfigError, match="needs the manifest's 'partition' column"):
        get_scheme("affwild2", manifest=m)


def test_a_video_split_across_sets_is_refused():
    rows = ROWS + [("v0_left", "v0", "Train_Set")]
    with pytest.raises(ConfigError, match=r"videos \['v0'\] have tracks in both Train_Set and Validation_Set"):
        get_scheme("affwild2", manifest=manifest(rows))


def test_k_does_not_apply():
    with pytest.raises(ConfigError, match="one fixed fold; k=3 does not apply"):
        get_scheme("affwild2", manifest=manifest(ROWS), k=3)
