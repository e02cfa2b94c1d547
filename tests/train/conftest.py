"""Fixtures of the trainer tests: a tiny on-disk feature store and the toy model."""

import pytest

from bench.models.registry import unregister_model
from tests.support.toy import build_toy_store, register_toy_model


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
