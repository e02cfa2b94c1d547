"""Config helpers: override parsing, nested overrides, stable hashing."""

from dataclasses import dataclass, field

import pytest

from bench.config import apply_overrides, parse_overrides, stable_hash, to_dict
from bench.errors import ConfigError


@dataclass
class _Inner:
    lr: float = 1e-3
    layers: list[int] = field(default_factory=lambda: [1, 2])


@dataclass
class _Outer:
    name: str = "x"
    inner: _Inner = field(default_factory=_Inner)


def test_parse_overrides_reads_toml_literals():
    parsed = parse_overrides(["a=3", "b=1e-4", "c=true", "d=conformer", 'e="x y"', "f=[1, 2]"])
    assert parsed == {"a": 3, "b": 1e-4, "c": True, "d": "conformer", "e": "x y", "f": [1, 2]}


def test_parse_overrides_rejects_missing_equals():
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["novalue"])


def test_nested_override_and_int_to_float():
    config = apply_overrides(_Outer(), {"inner.lr": 1, "name": "y"})
    assert config.inner.lr == 1.0 and isinstance(config.inner.lr, float) and config.name == "y"


def test_unknown_nested_key():
    with pytest.raises(ConfigError, match="unknown setting 'inner.lrr'"):
        apply_overrides(_Outer(), {"inner.lrr": 1})


def test_stable_hash_depends_on_values_only():
    assert stable_hash(_Outer()) == stable_hash(to_dict(_Outer()))
    assert stable_hash(_Outer()) != stable_hash(apply_overrides(_Outer(), {"inner.lr": 0.5}))


def test_parse_overrides_reads_python_spelled_booleans():
    parsed = parse_overrides(["train.robustness=False", "b=TRUE", "c=true", "d=Falsey"])
    assert parsed == {"train.robustness": False, "b": True, "c": True, "d": "Falsey"}
    from bench.train.config import TrainConfig

    assert apply_overrides(TrainConfig(), {"robustness": parsed["train.robustness"]}).robustness is False
