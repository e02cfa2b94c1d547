"""Per-fold configuration files (``bench sweep --nested``) are data read by the one loader: each
``[folds."<fold>"]`` table's overrides are checked like any other, its record is plain values,
and a malformed one fails naming the file, the fold's table and the key."""

from __future__ import annotations

import textwrap

import pytest

from bench.errors import ConfigError
from bench.studies.loader import load_study
from bench.study.resolve import read_fold_config

VALID = """
    [study]
    kind = "run"
    model = "deiii"

    [tuning]
    mode = "nested"
    sweep = "s"
    corpus = "synthetic"

    [train]
    epochs = 3

    [folds."fold1"]
    sweep = "s-outer-fold1"
    outer_fold = "fold1"
    test_speakers = ["01"]
    tuned_on_speakers = ["02", "03"]
    inner_val_speakers = [["02"], ["03"]]
    best_value = 0.5

    [folds."fold1".train]
    lr = 0.001

    [folds."fold2".model]
    dropout = 0.25
    """


def _write(tmp_path, text):
    path = tmp_path / "nested.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_per_fold_file_loads_each_fold_apart(tmp_path):
    path = _write(tmp_path, VALID)
    study = load_study(path)
    assert study.nested and study.tuning["mode"] == "nested"
    assert study.overrides["deiii"] == {"train.epochs": 3}
    assert study.fold_overrides == {"fold1": {"train.lr": 0.001}, "fold2": {"dropout": 0.25}}
    assert study.fold_tuning["fold1"]["tuned_on_speakers"] == ["02", "03"] and study.fold_tuning["fold2"] == {}
    assert read_fold_config(path, "deiii", "fold2") == ({"dropout": 0.25}, {})
    with pytest.raises(ConfigError, match=r"nested.toml: has no configuration for fold 'fold3' .*fold1, fold2"):
        read_fold_config(path, "deiii", "fold3")


def test_a_file_without_folds_is_not_nested(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "run"\nmodel = "deiii"\n[tuning]\nmode = "single"\nouter_fold = "fold1"\n')
    study = load_study(path)
    assert not study.nested and study.tuning["outer_fold"] == "fold1"
    assert read_fold_config(path, "deiii", "fold9") == ({}, {})  # one configuration for every fold


@pytest.mark.parametrize("change, message", [
    (('[folds."fold1".train]\nlr = 0.001', '[folds."fold1".train]\nlr = 0.001\n[folds."fold1".model]\ndropuot = 0.1'),
     r'nested.toml \[folds."fold1"\]: .*dropuot'),
    (('best_value = 0.5', 'best_value = 0.5\nlr = 0.1'),
     r'nested.toml \[folds."fold1"\]: unknown keys \[\'lr\'\]; settings go under \[folds."fold1".model\]'),
    (('best_value = 0.5', 'best_value = "high"'), r'nested.toml \[folds."fold1"\]: best_value must be a number'),
    (('test_speakers = ["01"]', 'test_speakers = [1]'), r"test_speakers must be a list of speaker ids written as text"),
    (('mode = "nested"', 'mode = "single"'), r'nested.toml: \[tuning\] mode = "single" .* contradicts the \[folds\] tables'),
    (('mode = "nested"', 'mode = "both"'), r"nested.toml: \[tuning\] mode must be one of \['single', 'nested'\]"),
    (('sweep = "s"\n', 'sweep = "s"\nsweeep = 1\n'), r"nested.toml \[tuning\]: unknown keys \['sweeep'\]"),
    (('kind = "run"', 'kind = "comparison"\nmodels = ["deiii"]'), r'\[folds."<fold>"\] tables .* belong in a kind = "run" file'),
])
def test_a_malformed_per_fold_file_names_file_table_and_key(tmp_path, change, message):
    old, new = change
    text = textwrap.dedent(VALID)
    assert old in text
    path = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message):
        load_study(path)
