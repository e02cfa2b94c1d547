"""How long an adapter takes to scan a full-size replica (RAVDESS speech: 24 actors x 180 files)."""

from __future__ import annotations

import warnings

import pytest

from bench.data.corpora import CorpusWarning, build_manifest


@pytest.fixture(scope="module")
def full_ravdess(tmp_path_factory):
    root = tmp_path_factory.mktemp("ravdess")
    for actor in range(1, 25):
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir()
        for emotion in range(1, 9):
            for intensity in ((1,) if emotion == 1 else (1, 2)):
                for statement in (1, 2):
                    for repetition in (1, 2):
                        trial = f"01-{emotion:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}"
                        for modality, ext in (("01", "mp4"), ("02", "mp4"), ("03", "wav")):
                            (folder / f"{modality}-{trial}.{ext}").touch()
    return root


@pytest.mark.benchmark
def test_ravdess_full_scan(benchmark, full_ravdess):
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CorpusWarning)
            return build_manifest("ravdess", full_ravdess)

    manifest = benchmark(run)
    assert len(manifest) == 1440
