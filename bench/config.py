"""Typed configuration as data: dataclasses in, dataclasses out, never code that runs.

Configs are plain ``@dataclass`` objects. They are overridden from the CLI (``--set
key=value``), from study files (TOML) and from Python (keyword arguments), and they are hashed
to key caches (a fold's result is keyed by the hash of the resolved config, split and seed).
Override values are parsed as TOML literals (``3``, ``1e-4``, ``true``, ``"conformer"``,
``[1, 2]``); a bare word that is not a TOML literal is taken as a string.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from bench.errors import ConfigError

C = TypeVar("C")


def closest(name: str, candidates, n: int = 3) -> list[str]:
    """The registered names closest to a misspelt one, for 'did you mean' messages."""
    return difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.5)


def parse_value(text: str) -> Any:
    """Parse one override value as a TOML literal; fall back to the raw string. ``True`` /
    ``FALSE`` are booleans too (TOML wants lowercase; a shell user types Python's spelling)."""
    if text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``["d_model=256", "train.lr=1e-4"]`` -> ``{"d_model": 256, "train.lr": 0.0001}``."""
    result: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {pair!r} is not of the form key=value")
        result[key.strip()] = parse_value(value.strip())
    return result


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass as a plain dict (nested dataclasses become dicts; tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=list))


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check (and gently coerce) one value against a field's type annotation."""
    origin = typing.get_origin(annotation)
    if annotation is typing.Any:
        return value
    if origin is typing.Literal:
        allowed = typing.get_args(annotation)
        if value not in allowed:
            raise ConfigError(f"{where} must be one of {list(allowed)}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        args = typing.get_args(annotation)
        inner = args[0] if args else typing.Any
        items = [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table, got {value!r}")
        return from_dict(annotation, value, where=where)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    return value


def _field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _check_probability(label: str, value: Any) -> None:
    """A numeric field named ``*dropout*`` is a drop probability: [0, 1) for every model.

    One rule by name instead of a check in each model's config: a dropout of 1 zeroes every
    activation and a negative one is meaningless, and both would otherwise train silently.
    """
    name = label.rsplit(".", 1)[-1]
    if "dropout" in name and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value < 1:
            raise ConfigError(f"{label} is a drop probability and must be in [0, 1), got {value!r}")


def from_dict(cls: type[C], data: dict[str, Any], where: str = "") -> C:
    """Build dataclass ``cls`` from a dict, rejecting unknown keys with suggestions."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    hints = _field_types(cls)
    kwargs = {}
    for key, value in data.items():
        label = f"{where}.{key}" if where else key
        if key not in names:
            hint = closest(key, names)
            suggestion = f"; did you mean {', '.join(hint)}?" if hint else ""
            raise ConfigError(f"unknown setting {label!r} for {cls.__name__}{suggestion}")
        kwargs[key] = _coerce(value, hints[key], label)
        _check_probability(label, kwargs[key])
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{cls.__name__}: {exc}") from exc


def apply_overrides(config: C, overrides: dict[str, Any]) -> C:
    """A copy of ``config`` with ``overrides`` applied; dotted keys reach nested dataclasses."""
    if not overrides:
        return config
    data = to_dict(config)
    for key, value in overrides.items():
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"unknown setting {key!r} for {type(config).__name__}")
            node = node[part]
        if parts[-1] not in node:
            hint = closest(parts[-1], node)
            suggestion = f"; did you mean {', '.join(hint)}?" if hint else ""
            raise ConfigError(f"unknown setting {key!r} for {type(config).__name__}{suggestion}")
        node[parts[-1]] = value
    return from_dict(type(config), data)


def stable_hash(obj: Any, length: int = 16) -> str:
    """A short hex digest of ``obj`` that is the same on every machine and Python run."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = to_dict(obj)
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:length]


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file as data, with the file named in any parse error."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
