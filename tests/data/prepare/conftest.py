"""Fixtures for the prepare tests: a few tiny clips written once per session, a private home."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.data.manifest import Manifest
from prepare_media import make_manifest, write_clip


@pytest.fixture(scope="session")
def media_root(tmp_path_factory) -> Path:
    """Four good clips (one with a separate WAV-like sound file) written once per session."""
    root = tmp_path_factory.mktemp("media")
    for i in range(4):
        write_clip(root / f"clip{i}.mp4", seed=10 * i, tone_hz=300 + 100 * i)
    write_clip(root / "clip_audio_src.mp4", face=False, tone_hz=880)  # used as a separate sound file
    return root


@pytest.fixture()
def good_manifest(media_root) -> Manifest:
    return make_manifest(media_root, {f"c{i}": f"clip{i}.mp4" for i in range(4)})


@pytest.fixture(autouse=True)
def _bench_home(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
