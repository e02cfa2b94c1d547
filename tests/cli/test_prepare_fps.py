"""``bench prepare --fps``: the step rate of frame-level clips (Aff-Wild2) reaches PrepareConfig."""

from __future__ import annotations

import sys

import pytest

import bench.cli
from bench.errors import ConfigError


def bench_main(monkeypatch, capsys, *argv) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["bench", *argv])
    with pytest.raises(SystemExit) as info:
        bench.cli.main()
    return info.value.code, capsys.readouterr().err


def test_fps_reaches_prepare(monkeypatch, capsys, tmp_path):
    import bench.data.corpora as corpora
    import bench.data.prepare as prepare

    seen = {}

    def fake_prepare(manifest, config, **kwargs):
        seen["fps"] = config.fps
        raise ConfigError("stopped after the config was built")

    monkeypatch.setattr(corpora, "build_manifest", lambda *a, **k: "manifest")
    monkeypatch.setattr(prepare, "prepare", fake_prepare)
    code, err = bench_main(monkeypatch, capsys, "prepare", "--dataset", "affwild2", "--root", str(tmp_path), "--fps", "2.5")
    assert code == 2 and "error: stopped after the config was built" in err
    assert seen == {"fps": 2.5}


def test_negative_fps_is_a_clear_error(monkeypatch, capsys, tmp_path):
    code, err = bench_main(monkeypatch, capsys, "prepare", "--dataset", "affwild2", "--root", str(tmp_path), "--fps", "-1")
    assert code == 2
    assert "error: fps must be >= 0 (0: the default for frame-level clips), got -1.0" in err
