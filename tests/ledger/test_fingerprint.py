"""The code fingerprint follows logic, not layout: docstrings and comments leave it alone."""

from __future__ import annotations

import sys

from bench.ledger.fingerprint import numeric_modules, source_digest


def _package(root, body: str, helper: str = "def scale(x):\n    return 2 * x\n") -> None:
    pkg = root / "fpmodel"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text(body)
    (pkg / "helper.py").write_text(helper)


def _digest(root) -> tuple[str, list[str]]:
    for name in [m for m in sys.modules if m.startswith("fpmodel")]:
        del sys.modules[name]
    modules = numeric_modules(("fpmodel.model",), ("fpmodel",))
    return source_digest(modules), sorted(modules)


BODY = '''"""A model."""
from fpmodel.helper import scale


def forward(x):
    """Twice x, plus one."""
    return scale(x) + 1
'''


def test_layout_docstrings_and_comments_keep_the_fingerprint_and_logic_changes_it(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    _package(tmp_path, BODY)
    digest, modules = _digest(tmp_path)
    assert modules == ["fpmodel", "fpmodel.helper", "fpmodel.model"]  # imports are followed
    _package(tmp_path, BODY.replace('"""Twice x, plus one."""', "# twice x\n    # plus one").replace("\n\n\n", "\n\n"))
    assert _digest(tmp_path)[0] == digest
    _package(tmp_path, BODY.replace("+ 1", "+ 2"))
    assert _digest(tmp_path)[0] != digest
    _package(tmp_path, BODY, helper="def scale(x):\n    return 3 * x\n")  # an imported module's logic counts too
    assert _digest(tmp_path)[0] != digest


def test_the_built_in_models_fingerprints_cover_the_trainer_and_not_the_reports():
    from bench.ledger.fingerprint import TRAINER_ROOTS
    from bench.models.registry import get_model_entry

    entry = get_model_entry("deiii")
    modules = numeric_modules((entry.model_class.__module__, entry.config_class.__module__, *TRAINER_ROOTS),
                              ("bench", "deiii"))
    assert {"deiii.model", "deiii.ife", "bench.train.loop", "bench.nn.attention", "bench.eval.metrics"} <= set(modules)
    assert not any(m.startswith(("bench.report", "bench.tracking", "bench.cli", "bench.ledger")) for m in modules)
