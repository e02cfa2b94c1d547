"""``--seeds 0 1 2`` means three seeds in every training command, as its help text says."""

from __future__ import annotations

import importlib

import pytest
from typer.testing import CliRunner

from bench.cli import _load_commands, app

_load_commands()


class Captured(Exception):
    pass


def captured_call(monkeypatch, target: str, argv: list[str]) -> tuple[tuple, dict]:
    calls: list = []

    def stub(*args, **kwargs):
        calls.append((args, kwargs))
        raise Captured()

    module, _, name = target.rpartition(".")
    monkeypatch.setattr(importlib.import_module(module), name, stub)
    result = CliRunner().invoke(app, argv)
    assert isinstance(result.exception, Captured), result.output
    return calls[0]


@pytest.mark.parametrize("argv,models,seeds", [
    (["--models", "deiii", "saf", "--seeds", "1", "2"], ["deiii", "saf"], [1, 2]),
    (["--seeds", "1", "2", "--models", "deiii", "saf"], ["deiii", "saf"], [1, 2]),
    (["--models", "deiii,saf", "--seeds", "0,2"], ["deiii", "saf"], [0, 2]),
    (["--models", "deiii"], ["deiii"], None),
])
def test_compare_takes_bare_seeds_and_model_names(monkeypatch, argv, models, seeds):
    args, kwargs = captured_call(monkeypatch, "bench.report.compare.compare", ["compare", *argv])
    assert args[0] == models and kwargs["seeds"] == seeds


def test_ablate_takes_bare_seeds_and_refuses_other_words(monkeypatch):
    _, kwargs = captured_call(monkeypatch, "bench.report.ablation.ablate", ["ablate", "--seeds", "0", "1", "2"])
    assert kwargs["seeds"] == [0, 1, 2]
    result = CliRunner().invoke(app, ["ablate", "--model", "deiii", "saf"])
    assert result.exit_code != 0 and "saf" in str(result.exception or result.output)


def test_ray_cpus_per_job_without_threads_is_announced(monkeypatch):
    """--cpus-per-job 4 reserves 4 CPUs, but a job trains with train.threads threads (1 unless
    set): the command says so, unless the overrides set train.threads."""
    pytest.importorskip("ray")
    import bench.cli.run as run_cli
    from tests.support.console import LineConsole

    console = LineConsole()
    monkeypatch.setattr(run_cli, "console", console)
    executor = run_cli.executor_from_options("ray", "1", None, 4.0, 0.0)
    assert executor.cpus_per_job == 4.0
    assert any("--cpus-per-job 4 reserves 4 CPUs" in line and "train.threads=4" in line for line in console.lines)
    console.lines.clear()
    run_cli.executor_from_options("ray", "1", None, 4.0, 0.0, ["train.threads=4"])
    run_cli.executor_from_options("ray", "1", None, 1.0, 0.0)
    assert console.lines == []
