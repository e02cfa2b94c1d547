"""Fixtures of the trainer tests: a tiny on-disk feature store and the toy model."""

import pytest

from bench.registry import unregister_model
from bench.train.toy import build_toy_store, register_toy_model


@pytest.fixture(scope="session")
def toy_store(tmp_path_factory):
    return build_toy_store(tmp_path_factory.mktemp("toy_store"))


@pytest.fixture(scope="session")
def small_store(tmp_path_factory):
    """Same clips at tiny shapes, for tests that train several times with augmentation."""
    return build_toy_store(tmp_path_factory.mktemp("small_store"), num_frames=4, image_size=16, n_mels=16, audio_steps=20)


@pytest.fixture
def toy_model():
    register_toy_model("toy")
    yield "toy"
    unregister_model("toy")


def speaker_fold(store, train=(2, 3, 4, 5), val=(1,), test=(0,)):
    """Clip ids per part by speaker number (toy clip ids are s<speaker>_c<clip>)."""
    number = lambda c: int(c[1:3])  # noqa: E731
    ids = store.clip_ids
    return {part: [c for c in ids if number(c) in set(groups)] for part, groups in (("train", train), ("val", val), ("test", test))}
