"""Study files are data: every shipped one loads, and mistakes fail early, naming file and key."""

from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.studies import load_study

STUDIES = sorted(Path(__file__).resolve().parents[1].joinpath("studies").glob("*.toml"))


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_shipped_studies_load(path):
    study = load_study(path)
    assert study.kind in ("comparison", "ablation", "sweep")


def test_there_are_studies_of_each_kind():
    kinds = {load_study(p).kind for p in STUDIES}
    assert kinds == {"comparison", "ablation", "sweep"}


def _write(tmp_path, text):
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def test_unknown_model_override_names_file_and_key(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "ablation"\nmodel = "deiii"\n[variants.full]\n[variants.x]\nuse_flw = false\n')
    with pytest.raises(ConfigError, match=r"study.toml \[variants.x\].*use_flw.*did you mean use_flow"):
        load_study(path)


def test_unknown_model_name_is_answered_with_suggestions(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "comparison"\nmodels = ["deiiii"]\n')
    with pytest.raises(Exception, match="Did you mean: deiii"):
        load_study(path)


def test_bad_train_key_and_bad_space(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "sweep"\nmodel = "deiii"\n[space.lr]\ntype = "float"\nlow = 1\nhigh = 0\ntarget = "train.lr"\n')
    with pytest.raises(ConfigError, match=r"\[space.lr\]: low \(1\) must be below high"):
        load_study(path)
    path = _write(tmp_path, '[study]\nkind = "sweep"\nmodel = "deiii"\n[space.lr]\ntype = "float"\nlow = 0\nhigh = 1\ntarget = "train.lrr"\n')
    with pytest.raises(ConfigError, match="train.lrr|lrr"):
        load_study(path)


def test_reported_rows_need_a_citation(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "comparison"\nmodels = ["saf"]\n[[reported]]\nmodel = "x"\naccuracy = 0.8\n')
    with pytest.raises(ConfigError, match="citation"):
        load_study(path)


def test_reference_must_be_a_variant(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "ablation"\nmodel = "deiii"\nreference = "full"\n[variants.other]\nife = "none"\n')
    with pytest.raises(ConfigError, match="reference variant 'full'"):
        load_study(path)


def test_nothing_in_a_study_is_executed(tmp_path):
    # A value that looks like code stays a string and is rejected by the typed config.
    path = _write(tmp_path, '[study]\nkind = "ablation"\nmodel = "deiii"\n[variants.full]\n[variants.x]\nnum_layers = "__import__(\'os\').system(\'false\')"\n')
    with pytest.raises(ConfigError, match="num_layers must be an integer"):
        load_study(path)
