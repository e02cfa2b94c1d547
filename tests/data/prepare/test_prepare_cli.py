"""``bench prepare`` on a tiny corpus (the adapter is replaced by a stub that returns our manifest)."""

from __future__ import annotations

import sys
import types

from typer.testing import CliRunner

import bench.cli.prepare  # noqa: F401  (registers the command)
from bench.cli import app
from bench.data.store import FeatureStore


def test_cli_prepares_and_prints_summary(good_manifest, media_root, tmp_path, monkeypatch):
    calls = []

    def build_manifest(dataset, root, *, strict=False, **options):
        calls.append((dataset, str(root), strict))
        return good_manifest.subset(["c0", "c1"])

    monkeypatch.setitem(sys.modules, "bench.data.corpora", types.SimpleNamespace(build_manifest=build_manifest))
    out = tmp_path / "store"
    args = ["prepare", "--dataset", "tiny", "--root", str(media_root), "--frames", "4", "--image-size", "24"]
    result = CliRunner().invoke(app, [*args, "--flow", "farneback", "--face", "haar", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert calls == [("tiny", str(media_root), False)]
    assert "clips ok" in result.output and "seconds faces" in result.output and str(out) in result.output.replace("\n", "")
    store = FeatureStore.open(out)
    assert store.clip_ids == ["c0", "c1"] and store.meta["settings"]["flow"] == "farneback"
    assert store.load("c0")["frames"].shape == (4, 3, 24, 24)

    bad = CliRunner().invoke(app, [*args, "--flow", "sideways", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "flow must be one of" in str(bad.exception)
