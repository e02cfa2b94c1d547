"""The registry: registration, duplicates, unknown names with suggestions, overrides."""

from dataclasses import dataclass

import pytest
import torch

from bench.models.contract import AVModel, ModelConfig, ModelOutput
from bench.errors import ConfigError, RegistryError
from bench.models.registry import create_model, get_model_entry, list_models, register_model, unregister_model


@dataclass
class _TinyConfig(ModelConfig):
    hidden: int = 8  # width of the only layer


@pytest.fixture
def tiny_model():
    @register_model("tiny_test_model", _TinyConfig, recipe={"lr": 1e-3})
    class Tiny(AVModel):
        """A throw-away model for registry tests."""

        def __init__(self, config):
            super().__init__(config)
            self.layer = torch.nn.Linear(config.audio_dim, config.num_outputs)

        def required_inputs(self):
            return ("audio",)

        def forward(self, batch):
            audio, _ = self.get_input(batch, "audio")
            return ModelOutput(logits={"fused": self.layer(audio.mean(1))})

    yield Tiny
    unregister_model("tiny_test_model")


def test_create_with_overrides(tiny_model):
    model = create_model("tiny_test_model", hidden=16, num_outputs=4)
    assert isinstance(model, tiny_model)
    assert model.config.hidden == 16 and model.config.num_outputs == 4
    assert get_model_entry("tiny_test_model").recipe == {"lr": 1e-3}
    assert "tiny_test_model" in list_models()


def test_duplicate_name_is_an_error(tiny_model):
    with pytest.raises(RegistryError, match="already registered"):

        @register_model("tiny_test_model", _TinyConfig)
        class Other(AVModel):
            pass


def test_unknown_name_suggests_closest(tiny_model):
    with pytest.raises(RegistryError, match="Did you mean: tiny_test_model"):
        create_model("tiny_tset_model")


def test_unknown_setting_suggests_closest(tiny_model):
    with pytest.raises(ConfigError, match="did you mean hidden"):
        create_model("tiny_test_model", hiden=3)


def test_wrong_type_is_rejected(tiny_model):
    with pytest.raises(ConfigError, match="hidden must be an integer"):
        create_model("tiny_test_model", hidden="wide")


def test_missing_input_names_model_and_key(tiny_model):
    model = create_model("tiny_test_model")
    with pytest.raises(Exception, match="needs input 'audio'"):
        model({"video": torch.zeros(1, 2, 3)})
