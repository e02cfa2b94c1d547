"""User-supplied split schemes (``--scheme path/to/folds.toml`` or ``.csv``), checked before any training.

A published protocol sometimes exists only as a list of speakers per fold; a user can hand it
over as a file instead of waiting for it to ship:

TOML
    the format of the shipped files (``bench/splits/schemes/*.toml``): ``name``, ``dataset``,
    ``group_by`` and one ``[[folds]]`` table per fold with ``train``, ``val`` and ``test`` lists.
    ``name`` defaults to the file's stem and ``dataset`` to the dataset being run.
CSV
    one row per (fold, speaker): columns ``fold``, ``part`` (train, val or test) and either
    ``speaker`` or ``session`` (the manifest column the ids refer to)::

        fold,part,speaker
        fold1,train,1001
        fold1,val,1002
        fold1,test,1003

Everything is checked before the first job starts, because a leaky split does not fail: it
inflates every score it touches. Refused with a :class:`~bench.errors.ConfigError` naming the
file: a speaker in two parts of one fold (the speakers are named), a fold with an empty part,
a speaker the manifest (or, without a manifest, the corpus) does not have. Warned about
(:class:`~bench.splits.scheme.SplitWarning`): a class of the manifest that some fold never
tests. The checksum is the sha256 of the file's bytes, as for shipped files.
"""

from __future__ import annotations

import csv
import hashlib
import warnings
from pathlib import Path

from bench.errors import ConfigError
from bench.splits.scheme import PARTS, Fold, SplitScheme, SplitWarning, id_sort_key, norm_id

USER_SUFFIXES = (".toml", ".csv")


def looks_like_path(scheme: str | Path | None) -> bool:
    """A ``--scheme`` value that names a file rather than a shipped scheme."""
    if scheme is None:
        return False
    text = str(scheme)
    return text.lower().endswith(USER_SUFFIXES) or "/" in text or "\\" in text or Path(text).is_file()


def _read_csv(path: Path, dataset: str) -> SplitScheme:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 CSV file ({exc.reason})") from None
    if not rows:
        raise ConfigError(f"{path}: empty file; expected a header fold,part,speaker")
    header = [h.strip().lower() for h in rows[0]]
    group_by = [c for c in ("speaker", "session") if c in header]
    missing = [c for c in ("fold", "part") if c not in header]
    if missing or len(group_by) != 1:
        raise ConfigError(f"{path}: line 1: the header needs columns fold, part and one of speaker/session; "
                          f"it has {rows[0]}")
    col = {name: header.index(name) for name in ("fold", "part", group_by[0])}
    parts: dict[str, dict[str, list[str]]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise ConfigError(f"{path}: line {line}: {len(row)} fields, the header has {len(header)}")
        fold, part, group = (row[col[k]].strip() for k in ("fold", "part", group_by[0]))
        if part.lower() not in PARTS:
            raise ConfigError(f"{path}: line {line}: part {part!r} is not one of {list(PARTS)}")
        if not fold or not group:
            raise ConfigError(f"{path}: line {line}: empty fold or {group_by[0]}")
        parts.setdefault(fold, {p: [] for p in PARTS})[part.lower()].append(group)
    if not parts:
        raise ConfigError(f"{path}: no folds (only a header)")
    folds = [_fold(path, name, lists["train"], lists["val"], lists["test"], group_by[0]) for name, lists in parts.items()]
    return SplitScheme(path.stem, dataset, folds, checksum=hashlib.sha256(path.read_bytes()).hexdigest(),
                       source=str(path), description=f"user-supplied split scheme {path.name}")


def _fold(path: Path, name: str, train, val, test, group_by: str) -> Fold:
    try:
        return Fold(name, train, val, test, group_by)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc} -- a {group_by} in two parts leaks into the test score; refused") from None


def _read_toml(path: Path, dataset: str) -> SplitScheme:
    from bench.config import load_toml

    data = load_toml(path)
    if not isinstance(data.get("folds"), list) or not data["folds"]:
        raise ConfigError(f"{path}: a split scheme needs [[folds]] tables with train, val and test lists")
    group_by = data.get("group_by", "speaker")
    folds = []
    for i, table in enumerate(data["folds"], start=1):
        missing = [k for k in ("train", "val", "test") if k not in table]
        if missing:
            raise ConfigError(f"{path}: [[folds]] #{i} lacks {missing}")
        folds.append(_fold(path, str(table.get("name", f"fold{i}")), table["train"], table["val"], table["test"], group_by))
    named = {"name": data.get("name", path.stem), "dataset": data.get("dataset", dataset)}
    if named["dataset"] != dataset:
        raise ConfigError(f"{path}: the scheme is for dataset {named['dataset']!r}, not {dataset!r}")
    return SplitScheme(named["name"], dataset, folds, checksum=hashlib.sha256(path.read_bytes()).hexdigest(),
                       source=str(path), description=data.get("description", f"user-supplied split scheme {path.name}"),
                       extra=dict(data.get("params", {})))


def load_user_scheme(path: str | Path, dataset: str, *, manifest=None, universe=None) -> SplitScheme:
    """Read a user's scheme file and :func:`validate_scheme` it; errors name the file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"split scheme file {path} does not exist")
    if path.suffix.lower() == ".csv":
        scheme = _read_csv(path, dataset)
    elif path.suffix.lower() == ".toml":
        scheme = _read_toml(path, dataset)
    else:
        raise ConfigError(f"{path}: a split scheme file must end in .toml or .csv")
    validate_scheme(scheme, manifest, where=str(path), universe=universe)
    return scheme


def validate_scheme(scheme: SplitScheme, manifest=None, *, where: str = "", universe=None) -> None:
    """Refuse a scheme that would leak or could not run; warn about folds missing a test class.

    ``universe``: the ids the corpus has when no manifest is given (e.g. CREMA-D's 91 actors).
    """
    where = where or f"{scheme.dataset}/{scheme.name}"
    for fold in scheme.folds:
        # Fold() refuses shared ids already; checked again here for schemes built in code.
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            shared = sorted(set(getattr(fold, a)) & set(getattr(fold, b)), key=id_sort_key)
            if shared:
                raise ConfigError(f"{where}: fold {fold.name}: {fold.group_by}s {shared} are in both {a} and {b}; refused")
        empty = [p for p in PARTS if not getattr(fold, p)]
        if empty:
            raise ConfigError(f"{where}: fold {fold.name}: no {fold.group_by} in {empty}")
    known = None
    if manifest is not None:
        if scheme.group_by not in manifest.frame.columns:
            raise ConfigError(f"{where}: the manifest has no {scheme.group_by!r} column to split by")
        known = {norm_id(v) for v in manifest.frame[scheme.group_by]}
    elif universe is not None:
        known = {norm_id(v) for v in universe}
    if known is not None:
        for fold in scheme.folds:
            unknown = sorted(set(fold.groups) - known, key=id_sort_key)
            if unknown:
                what = f"manifest ({len(known)} {scheme.group_by}s)" if manifest is not None else f"{scheme.dataset} corpus"
                raise ConfigError(f"{where}: fold {fold.name}: {scheme.group_by}s {unknown} are not in the {what}")
    if manifest is not None and "label" in manifest.frame.columns:
        frame = manifest.frame
        groups = frame[scheme.group_by].map(norm_id)
        classes = sorted({c for c in frame["label"] if c})
        for fold in scheme.folds:
            present = set(frame.loc[groups.isin(set(fold.test)), "label"])
            absent = [c for c in classes if c not in present]
            if absent:
                warnings.warn(f"{where}: fold {fold.name}: the test {scheme.group_by}s have no clip of class(es) {absent}; "
                              "per-class recall (UAR) is undefined there", SplitWarning, stacklevel=2)


__all__ = ["load_user_scheme", "validate_scheme", "looks_like_path", "USER_SUFFIXES"]
