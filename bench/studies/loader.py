"""Declarative study files (TOML): comparison sets, ablation grids and sweep spaces.

A study file is data, never code: it names registered models and config overrides, and the
suite validates every name and key before anything trains (a typo fails in a second, not after
an hour). Three kinds, told apart by ``[study] kind``:

``comparison``
    ``models = [...]``, per-model overrides in ``[overrides.<model>]`` (model keys plain,
    training keys under ``train.``), optional ``[[reported]]`` rows quoted from the literature
    (kept apart from measured rows in every table), and an optional ``[tune]`` budget
    (``trials``, ``inner_folds``, ``seed``, ``pruning``, ``from_defaults``) with which ``bench compare --tune``
    nested-tunes every model alike and adds its tuned row beside the default one.
``ablation``
    ``model``, ``reference`` (the variant every other row is compared with) and one
    ``[variants.<name>]`` table of overrides per variant (an empty table is the reference).
``sweep``
    ``model``, ``metric``, ``direction``, ``inner_folds`` and one ``[space.<name>]`` table per
    searched parameter: ``type`` (float | int | categorical), ``low``/``high``/``log`` or
    ``choices``, and ``target`` (the override key it sets, e.g. ``train.lr``).

Every kind may also carry ``dataset``, ``root``, ``scheme``, ``folds``, ``seeds`` and a
``[overrides.<model>]`` table applied before the kind's own changes; ``bench run --config``
reads ``[model]`` and ``[train]`` tables (that is what a sweep writes for its best trial).
A file written by ``bench sweep`` also holds a ``[tuning]`` table (how and on which speakers it
was tuned). One written by ``bench sweep --nested`` holds one ``[folds."<fold>"]`` table per
outer fold: that fold's tuned ``[folds."<fold>".model]`` / ``[folds."<fold>".train]`` values
(applied over ``[model]``/``[train]`` to that fold only) and the record of what it was tuned
on (``sweep``, ``outer_fold``, ``test_speakers``, ``tuned_on_speakers``, ``tuned_on_hash``,
``inner_val_speakers``...), all data.
A ``[study.options]`` table holds the options of ``dataset``'s corpus adapter (e.g.
``labels = "/data/msp_labels.csv"`` or ``label_source = "perceived"``), checked when the file
is read; like ``root``, a relative path there is relative to the folder the command runs in,
and a command's ``--option key=value`` overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.config import load_toml
from bench.errors import ConfigError
from bench.protocols import ReportedRow
from bench.paths import safe_name

STUDY_KINDS = ("comparison", "ablation", "sweep", "run")
TUNING_MODES = ("single", "nested")  # [tuning] mode: tuned on one outer fold, or one study per outer fold
# What a [folds."<fold>"] table may record besides its model / train tables (written by bench sweep --nested).
FOLD_RECORD_KEYS = {"sweep": str, "outer_fold": str, "best_value": float, "trials_complete": int, "seed": int,
                    "test_speakers": list, "tuned_on_speakers": list, "tuned_on_hash": str, "inner_val_speakers": list}
TUNING_KEYS = {"mode": str, "sweep": str, "study": str, "metric": str, "direction": str, "trials": int, "seed": int,
               "dataset": str, "corpus": str, "scheme": str, "split_checksum": str, "inner_folds": int,
               **FOLD_RECORD_KEYS}
# The shipped study files live inside the package (not in the working directory), so that
# ``bench sweep --model M`` and ``bench ablate --model M`` find them from any folder and in
# an installed wheel; ``studies/`` at the repository root links to this folder.
SHIPPED_STUDIES = Path(__file__).resolve().parent


@dataclass
class SearchDimension:
    name: str
    type: Literal["float", "int", "categorical"]
    target: str  # the override key this dimension sets (model key, or train.<key>)
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] = field(default_factory=list)


@dataclass
class Study:
    kind: str
    name: str
    path: Path | None = None
    dataset: str | None = None
    root: str | None = None
    scheme: str | None = None
    folds: int | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    models: list[str] = field(default_factory=list)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # per model
    reported: list[ReportedRow] = field(default_factory=list)
    model: str | None = None  # ablation / sweep subject
    reference: str = "full"
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    metric: str = "auto"
    direction: Literal["maximize", "minimize"] = "maximize"
    inner_folds: int = 3
    space: list[SearchDimension] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)  # ablation: heads scored from the reference runs
    descriptions: dict[str, str] = field(default_factory=dict)  # ablation: variant -> what changed
    pairs: dict[str, list[str]] = field(default_factory=dict)  # ablation: named class pairs to score
    options: dict[str, Any] = field(default_factory=dict)  # [study.options]: corpus adapter options of `dataset`
    tuning: dict[str, Any] = field(default_factory=dict)  # [tuning]: how a written configuration was tuned
    fold_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # [folds."<fold>"]: that fold's own overrides
    fold_tuning: dict[str, dict[str, Any]] = field(default_factory=dict)  # [folds."<fold>"]: what that fold was tuned on
    tune: dict[str, Any] = field(default_factory=dict)  # comparison [tune]: the nested-tuning budget every model gets

    @property
    def nested(self) -> bool:
        """Whether this file gives each outer fold its own configuration (``bench sweep --nested``)."""
        return bool(self.fold_overrides) or self.tuning.get("mode") == "nested"

    def model_overrides(self, model: str) -> dict[str, Any]:
        return dict(self.overrides.get(model, {}))


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}`` (tables become dotted override keys)."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _check_model(name: Any, where: str) -> str:
    from bench.models.registry import get_model_entry

    if not isinstance(name, str):
        raise ConfigError(f"{where}: model must be a string, got {name!r}")
    get_model_entry(name)  # raises with the closest names
    return name


TUNE_KEYS = {"trials": int, "inner_folds": int, "seed": int, "pruning": bool,  # a comparison's [tune] table
             "from_defaults": bool}


def read_tune_budget(table: Any, where: str) -> dict[str, Any]:
    """A comparison's ``[tune]`` table: ``trials`` per outer fold (required), ``inner_folds``
    (1: each outer fold's own validation speakers), the sampler ``seed``, median ``pruning`` and
    ``from_defaults`` (trial 0 at the model's own setting)."""
    budget = _record(table, TUNE_KEYS, where)
    if budget.get("trials", 0) < 1 or budget.get("inner_folds", 1) < 1:
        raise ConfigError(f"{where}: needs trials >= 1 (and inner_folds >= 1 when given)")
    return budget


def check_overrides(model: str, overrides: dict[str, Any], where: str) -> dict[str, Any]:
    """Apply the overrides to the model's defaults and TrainConfig now, so typos fail early."""
    from bench.config import apply_overrides
    from bench.models.registry import resolve_config

    model_keys = {k: v for k, v in overrides.items() if not k.startswith("train.")}
    train_keys = {k[len("train."):]: v for k, v in overrides.items() if k.startswith("train.")}
    try:
        resolve_config(model, **model_keys)
        if train_keys:
            from bench.train.config import TrainConfig

            apply_overrides(TrainConfig(), train_keys)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return overrides


def _dimension(name: str, table: dict[str, Any], where: str) -> SearchDimension:
    kind = table.get("type")
    if kind not in ("float", "int", "categorical"):
        raise ConfigError(f"{where}: type must be float, int or categorical, got {kind!r}")
    target = table.get("target", name)
    if kind == "categorical":
        choices = table.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: a categorical dimension needs a non-empty 'choices' list")
        return SearchDimension(name, kind, target, choices=choices)
    if "low" not in table or "high" not in table:
        raise ConfigError(f"{where}: a {kind} dimension needs 'low' and 'high'")
    low, high = table["low"], table["high"]
    if not low < high:
        raise ConfigError(f"{where}: low ({low}) must be below high ({high})")
    return SearchDimension(name, kind, target, low=low, high=high, log=bool(table.get("log", False)), step=table.get("step"))


def load_study(path: str | Path, *, model: str | None = None) -> Study:
    """Read and validate a study file; every error names the file and the offending key.

    ``model``: the model a ``[model]``/``[train]`` file applies to when its ``[study]`` table
    names none (``bench run --model M --config best.toml``).
    """
    path = Path(path)
    data = load_toml(path)
    where = str(path)
    head = data.get("study", {})
    kind = head.get("kind", "run")
    if kind not in STUDY_KINDS:
        raise ConfigError(f"{where}: [study] kind must be one of {list(STUDY_KINDS)}, got {kind!r}")
    known = {"study", "overrides", "reported", "variants", "space", "model", "train", "descriptions", "pairs", "tuning", "folds",
             "tune"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown top-level tables {unknown}; expected some of {sorted(known)}")

    study = Study(kind=kind, name=head.get("name", path.stem), path=path)
    safe_name(study.name, f"{where} [study] name")  # names best-config files and report folders
    if "dataset" in head:
        safe_name(head["dataset"], f"{where} [study] dataset")  # names report folders
    for key in ("dataset", "root", "scheme", "folds", "metric", "direction", "inner_folds", "reference"):
        if key in head:
            setattr(study, key, head[key])
    if "seeds" in head:
        study.seeds = [int(s) for s in head["seeds"]]
    if "options" in head:  # [study.options]: corpus adapter options (labels = "...", label_source = "...")
        if not isinstance(head["options"], dict):
            raise ConfigError(f"{where}: [study] options must be a table ([study.options] key = value)")
        from bench.data.corpora import adapter_options

        adapter_options(study.dataset or "synthetic", head["options"], where=f"{where} [study.options]")  # typos fail now
        study.options = dict(head["options"])
    if not isinstance(study.inner_folds, int) or isinstance(study.inner_folds, bool) or study.inner_folds < 1:
        raise ConfigError(f"{where}: [study] inner_folds must be a whole number >= 1 (1: the outer fold's own "
                          f"validation speakers), got {study.inner_folds!r}")
    if study.direction not in ("maximize", "minimize"):
        raise ConfigError(f"{where}: direction must be maximize or minimize")

    if kind == "comparison":
        study.models = [_check_model(m, f"{where} [study] models") for m in head.get("models", [])]
        if not study.models:
            raise ConfigError(f"{where}: a comparison needs [study] models = [...]")
    if kind in ("ablation", "sweep", "run"):
        named = head.get("model")
        if named is not None:
            study.model = _check_model(named, f"{where} [study] model")
        elif kind != "run":
            raise ConfigError(f"{where}: an {kind} study needs [study] model = \"...\"")

    for name, table in data.get("overrides", {}).items():
        _check_model(name, f"{where} [overrides.{name}]")
        study.overrides[name] = check_overrides(name, _flatten(table), f"{where} [overrides.{name}]")

    if kind == "comparison" and ("model" in data or "train" in data):
        # A comparison's ``[train]`` is the budget every model shares (same epochs, same early
        # stopping: fair); a model's own ``[overrides.<model>]`` still wins over it.
        if "model" in data:
            raise ConfigError(f"{where}: a comparison has no [model] table (its models have different keys); "
                              "put model keys in [overrides.<model>]")
        shared = _flatten(data["train"], "train.")
        for name in study.models:
            study.overrides[name] = check_overrides(name, {**shared, **study.overrides.get(name, {})}, f"{where} [train]")
    # ``[model]`` / ``[train]`` tables: the form `bench sweep` writes for its best trial.
    elif "model" in data or "train" in data:
        subject = study.model or (study.models[0] if study.models else None) or model
        if subject is None:
            raise ConfigError(f"{where}: [model]/[train] tables need [study] model = \"...\"")
        flat = {**_flatten(data.get("model", {})), **_flatten(data.get("train", {}), "train.")}
        merged = {**study.overrides.get(subject, {}), **flat}
        study.overrides[subject] = check_overrides(subject, merged, f"{where} [model]/[train]")

    if "tune" in data:
        if kind != "comparison":
            raise ConfigError(f"{where}: [tune] belongs to a comparison (the budget each model is nested-tuned with)")
        study.tune = read_tune_budget(data["tune"], f"{where} [tune]")
    if "tuning" in data:
        study.tuning = _record(data["tuning"], TUNING_KEYS, f"{where} [tuning]")
        if study.tuning.get("mode", "single") not in TUNING_MODES:
            raise ConfigError(f"{where}: [tuning] mode must be one of {list(TUNING_MODES)}, got {study.tuning['mode']!r}")
    if "folds" in data:
        _read_folds(study, data["folds"], model, where)

    texts = ("model", "citation", "dataset", "note", "protocol", "modality", "source")
    for i, row in enumerate(data.get("reported", []), start=1):
        missing = [k for k in ("model", "citation") if k not in row]
        if missing:
            raise ConfigError(f"{where}: every [[reported]] row needs {missing[0]!r} (model and citation)")
        try:
            metrics = {k: float(v) for k, v in row.items() if k not in texts and k != "parameters"}
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: [[reported]] row {i} ({row['model']}): metric values must be numbers") from None
        study.reported.append(ReportedRow(row["model"], metrics, row["citation"], parameters=row.get("parameters"),
                                          note=row.get("note", ""), protocol=row.get("protocol", ""),
                                          dataset=row.get("dataset", ""), modality=row.get("modality", ""),
                                          source=row.get("source", "")))

    if kind == "ablation":
        variants = data.get("variants", {})
        if study.reference not in variants:
            raise ConfigError(f"{where}: the reference variant {study.reference!r} is not among [variants.*]")
        base = study.overrides.get(study.model, {})
        for name, table in variants.items():
            safe_name(name, f"{where} [variants] name")
            study.variants[name] = check_overrides(study.model, {**base, **_flatten(table)}, f"{where} [variants.{name}]")

    if kind == "ablation":
        study.heads = [str(h) for h in head.get("heads", [])]
        study.descriptions = {str(k): str(v) for k, v in data.get("descriptions", {}).items()}
        unknown_desc = sorted(set(study.descriptions) - set(study.variants) - {f"head_{h}" for h in study.heads})
        if unknown_desc:
            raise ConfigError(f"{where}: [descriptions] names unknown variants {unknown_desc}")
        for name, classes in data.get("pairs", {}).items():
            safe_name(name, f"{where} [pairs] name")  # names a figure file
            if not (isinstance(classes, list) and len(classes) == 2 and all(isinstance(c, str) for c in classes)):
                raise ConfigError(f"{where}: [pairs] {name} must be a list of two class names")
            study.pairs[name] = classes

    if kind == "sweep":
        space = data.get("space", {})
        if not space:
            raise ConfigError(f"{where}: a sweep needs at least one [space.<name>] table")
        for name, table in space.items():
            dimension = _dimension(name, table, f"{where} [space.{name}]")
            probe = dimension.choices[0] if dimension.type == "categorical" else dimension.low
            if dimension.type == "int":
                probe = int(probe)
            check_overrides(study.model, {dimension.target: probe}, f"{where} [space.{name}]")
            study.space.append(dimension)
    return study


def _record(table: Any, keys: dict[str, type], where: str) -> dict[str, Any]:
    """A table of plain recorded values, each key known and of its type (lists hold text)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; expected some of {sorted(keys)}")
    for key, value in table.items():
        kind = keys[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else isinstance(value, kind)
        if kind is int and isinstance(value, bool):
            ok = False
        if not ok:
            wanted = {float: "a number", list: "a list", int: "an integer", str: "text", bool: "true or false"}[kind]
            raise ConfigError(f"{where}: {key} must be {wanted}, got {value!r}")
    for key in ("test_speakers", "tuned_on_speakers"):
        if key in table and not all(isinstance(v, str) for v in table[key]):
            raise ConfigError(f"{where}: {key} must be a list of speaker ids written as text")
    return dict(table)


def _read_folds(study: Study, folds: Any, model: str | None, where: str) -> None:
    """``[folds."<fold>"]`` tables: each outer fold's own overrides and what it was tuned on."""
    if study.kind != "run":
        raise ConfigError(f"{where}: [folds.\"<fold>\"] tables (one configuration per outer fold) belong in a "
                          f"kind = \"run\" file, not a {study.kind!r} study")
    if study.tuning.get("mode") == "single":
        raise ConfigError(f"{where}: [tuning] mode = \"single\" (one configuration for all folds) contradicts the "
                          "[folds] tables; a file tuned per fold has mode = \"nested\"")
    if not isinstance(folds, dict) or not folds:
        raise ConfigError(f"{where}: [folds] must hold one [folds.\"<fold>\"] table per outer fold")
    subject = study.model or model
    if subject is None:
        raise ConfigError(f"{where}: [folds] tables need [study] model = \"...\"")
    base = study.overrides.get(subject, {})
    for name, table in folds.items():
        at = f'{where} [folds."{name}"]'
        if not isinstance(table, dict):
            raise ConfigError(f"{at}: must be a table (its [model] and [train] values and what it was tuned on)")
        for part in ("model", "train"):
            if part in table and not isinstance(table[part], dict):
                raise ConfigError(f"{at}: {part} must be a table ([folds.\"{name}\".{part}] key = value)")
        record = {k: v for k, v in table.items() if k not in ("model", "train")}
        unknown = sorted(set(record) - set(FOLD_RECORD_KEYS))
        if unknown:
            raise ConfigError(f"{at}: unknown keys {unknown}; settings go under [folds.\"{name}\".model] or "
                              f"[folds.\"{name}\".train], and the record may hold {sorted(FOLD_RECORD_KEYS)}")
        flat = {**_flatten(table.get("model", {})), **_flatten(table.get("train", {}), "train.")}
        check_overrides(subject, {**base, **flat}, at)
        study.fold_overrides[str(name)] = flat
        study.fold_tuning[str(name)] = _record(record, FOLD_RECORD_KEYS, at)


def shipped_study(kind: str, model: str) -> Path:
    """The shipped ``<kind>_<model>.toml`` (kind: sweep or ablation), found from any folder.

    The model name becomes part of a file name, so it is checked like any other name.
    """
    path = SHIPPED_STUDIES / f"{kind}_{safe_name(model, '--model')}.toml"
    if not path.is_file():
        known = sorted(p.stem.removeprefix(f"{kind}_") for p in SHIPPED_STUDIES.glob(f"{kind}_*.toml"))
        raise ConfigError(f"no shipped {kind} study for model {model!r} (there are {kind} studies for {known} "
                          f"in {SHIPPED_STUDIES}); pass --study FILE")
    return path
