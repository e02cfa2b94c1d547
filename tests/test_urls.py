"""Passwords in storage and tracking URLs are never printed, logged as parameters or written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import bench.cli

from bench.urls import redact_url


@pytest.mark.parametrize("url,shown", [
    ("postgresql://bench:s3cret@db-host:5432/optuna", "postgresql://bench:***@db-host:5432/optuna"),
    ("postgresql+psycopg2://bench:p%40ss@h/db?sslmode=require", "postgresql+psycopg2://bench:***@h/db?sslmode=require"),
    ("http://user:pw@mlflow:5000", "http://user:***@mlflow:5000"),
    ("http://h/?user=a&password=zz", "http://h/?user=a&password=***"),
    ("postgresql://bench@db-host/optuna", "postgresql://bench@db-host/optuna"),
    ("journal:/x/optuna.journal", "journal:/x/optuna.journal"),
    ("sqlite:////a/b.db", "sqlite:////a/b.db"),
    ("", ""),
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_source_tag_and_report_command_hide_the_password(monkeypatch):
    from bench.report.provenance import command_line
    from bench.tracking.runs import source_tags

    monkeypatch.setattr(sys, "argv", ["/venv/bin/bench", "sweep", "--storage", "postgresql://bench:s3cret@db/optuna",
                                      "--tracking-uri", "http://u:hunter2@mlflow:5000"])
    for text in (source_tags()["mlflow.source.name"], command_line()):
        assert "s3cret" not in text and "hunter2" not in text
        assert "postgresql://bench:***@db/optuna" in text and "http://u:***@mlflow:5000" in text


def test_sweep_parent_run_logs_the_storage_redacted(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from bench.studies.loader import load_study
    from bench.sweep.driver import SweepSettings
    from bench.tracking.sweep import create_sweep_parent_run

    monkeypatch.setenv("BENCH_HOME", str(tmp_path))
    study = load_study(Path(bench.cli.__file__).with_name("toy_sweep.toml"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = SweepSettings(study_path=str(study.path), study_name="s", trials=1, storage="postgresql://bench:s3cret@db/optuna",
                             tracking_uri=uri)
    run_id = create_sweep_parent_run(settings, study)
    params = MlflowClient(uri).get_run(run_id).data.params
    assert params["storage"] == "postgresql://bench:***@db/optuna"


def test_bare_postgresql_urls_name_the_installed_driver():
    from bench.urls import database_url

    assert database_url("postgresql://bench@db/optuna") == "postgresql+psycopg2://bench@db/optuna"
    assert database_url("postgres://bench@db/optuna") == "postgresql+psycopg2://bench@db/optuna"
    assert database_url("postgresql+psycopg://bench@db/optuna") == "postgresql+psycopg://bench@db/optuna"
    assert database_url("sqlite:////x.db") == "sqlite:////x.db"


def test_unreachable_storage_is_one_clear_error_without_the_password():
    import socket

    pytest.importorskip("psycopg2")
    from bench.errors import ConfigError
    from bench.sweep.storage import open_storage

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConfigError) as info:
        open_storage(f"postgresql://bench:s3cret@127.0.0.1:{port}/optuna")
    text = str(info.value)
    assert text.startswith(f"--storage postgresql://bench:***@127.0.0.1:{port}/optuna: cannot open the database: ")
    assert "s3cret" not in text and "refused" in text.lower()
