"""The code fingerprint of a result: which source produced its numbers.

A record is reused only while the code that trained it is the code that would train it now.
The fingerprint hashes the *syntax* of every project module on the model's and the trainer's
numeric path (the model's own module and what it imports, ``bench.train.loop`` and what it
imports, transitively, within the model's package and ``bench``), so an edit to a docstring,
a comment or the layout leaves it alone while any change of logic changes it. It is
deliberately conservative: a refactor that keeps every number bit for bit still changes it,
and ``--verify-stale`` (:mod:`bench.study.restamp`) retrains a sample of the records, compares
them bit for bit and only then moves the records to the new fingerprint.

Modules that never touch a number (tracking, reports, the CLI, the study runner, sweeps, the
ledger itself) are not followed, so work on them keeps every record fresh.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from pathlib import Path

# The trainer's numeric path starts here (with the model's own modules).
TRAINER_ROOTS = ("bench.train.loop",)
# Packages off the numeric path: what they do never changes a trained number.
NOT_NUMERIC = ("bench.cli", "bench.report", "bench.tracking", "bench.study", "bench.sweep", "bench.studies",
               "bench.ledger", "bench.console", "bench.urls", "bench.interrupt", "bench.cores", "bench.experiment")


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module ``module`` imports, at any level (local imports too), as absolute names."""
    names: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)  # a submodule imported by name
    return names


def _followed(name: str, tops: tuple[str, ...]) -> bool:
    top = name.split(".")[0]
    return top in tops and not any(name == p or name.startswith(p + ".") for p in NOT_NUMERIC)


def numeric_modules(roots: tuple[str, ...], tops: tuple[str, ...]) -> dict[str, Path]:
    """The project modules reachable from ``roots`` through imports: ``{module name: file}``."""
    seen: dict[str, Path] = {}
    todo = [r for r in roots if _followed(r, tops)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen[name] = path
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for imported in _imports(tree, name, path.name == "__init__.py"):
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):  # the packages on the way are code too
                candidate = ".".join(parts[:i])
                if candidate not in seen and _followed(candidate, tops):
                    todo.append(candidate)
    return seen


def source_digest(modules: dict[str, Path]) -> str:
    """sha256 over the modules' syntax trees without docstrings (comments and layout never reach it)."""
    digest = hashlib.sha256()
    for name in sorted(modules):
        tree = _strip_docstrings(ast.parse(modules[name].read_text(encoding="utf-8")))
        digest.update(name.encode() + b"\0" + ast.dump(tree, include_attributes=False).encode() + b"\0")
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def code_fingerprint(model_module: str, config_module: str) -> str:
    """The fingerprint of the code that trains a model defined in ``model_module``."""
    tops = tuple(dict.fromkeys(("bench", model_module.split(".")[0], config_module.split(".")[0])))
    return source_digest(numeric_modules((model_module, config_module, *TRAINER_ROOTS), tops))


def fingerprint_of(model_class: type, config_class: type) -> str:
    return code_fingerprint(model_class.__module__, config_class.__module__)
