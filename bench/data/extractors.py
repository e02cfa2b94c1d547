"""Optional pretrained feature extractors, loaded from local files only (never from a hub).

- Audio: a wav2vec2-style model saved with ``save_pretrained`` (a folder with ``config.json``
  and weights), loaded with ``transformers.AutoModel.from_pretrained(dir,
  local_files_only=True)``. The waveform goes through the folder's feature extractor when it
  has one (``preprocessor_config.json``), else through plain zero-mean/unit-variance
  normalisation, which is what wav2vec2's extractor does. Output: the hidden states of the
  chosen layer, ``(T_a', D)`` float32 ("audio_emb"); layer 0 is the input to the first
  transformer block, -1 the last block's output.
- Image: any TorchScript module (``torch.jit.load``) that maps ``(B, 3, H, W)`` float images to
  ``(B, ...)``; applied to each face crop, flattened to ``(T, D)`` float32 ("video_emb").

Models are cached per process (one load per worker, not per clip). A path that does not
exist, or exists but holds no loadable model, is a :class:`~bench.errors.ConfigError` naming
it: this is a setting error, not a bad clip, so ``prepare`` stops before decoding anything.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from bench.errors import ConfigError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

_AUDIO_MODELS: dict[str, "AudioExtractor"] = {}
_IMAGE_MODELS: dict[str, "ImageExtractor"] = {}


class AudioExtractor:
    """A local wav2vec2-style encoder: waveform (16 kHz mono) -> hidden states of one layer."""

    def __init__(self, path: str | Path, layer: int = -1, sample_rate: int = 16000):
        path = Path(path).expanduser()
        if not path.exists():
            raise ConfigError(f"audio model {path}: no such folder")
        if not path.is_dir() or not (path / "config.json").is_file():
            raise ConfigError(f"audio model {path}: not a saved transformers model (needs a folder with config.json)")
        import torch
        from transformers import AutoFeatureExtractor, AutoModel

        try:
            self.model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        except Exception as exc:
            raise ConfigError(f"audio model {path}: transformers could not load it: {exc}") from None
        self.processor = None
        if (path / "preprocessor_config.json").is_file():
            try:
                self.processor = AutoFeatureExtractor.from_pretrained(str(path), local_files_only=True)
            except Exception as exc:
                raise ConfigError(f"audio model {path}: bad preprocessor_config.json: {exc}") from None
        num_layers = getattr(self.model.config, "num_hidden_layers", None)
        if num_layers is not None and not -(num_layers + 1) <= layer <= num_layers:
            raise ConfigError(f"audio model {path}: layer {layer} outside [-{num_layers + 1}, {num_layers}]")
        self.path, self.layer, self.sample_rate = path, layer, sample_rate
        self._torch = torch

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        torch = self._torch
        if self.processor is not None:
            values = self.processor(wave, sampling_rate=self.sample_rate, return_tensors="np")["input_values"][0]
        else:
            values = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)
        with torch.inference_mode():
            out = self.model(torch.from_numpy(np.asarray(values, np.float32))[None], output_hidden_states=True)
        return out.hidden_states[self.layer][0].float().numpy()


class ImageExtractor:
    """A local TorchScript image model applied to every face crop."""

    def __init__(self, path: str | Path, normalize: str = "imagenet"):
        path = Path(path).expanduser()
        if not path.is_file():
            raise ConfigError(f"image model {path}: no such file")
        if normalize not in ("imagenet", "unit"):
            raise ConfigError(f"image model normalisation {normalize!r}: choose 'imagenet' or 'unit'")
        import torch

        try:
            with warnings.catch_warnings():  # torch >= 2.10 deprecates TorchScript; the format still loads
                warnings.simplefilter("ignore", DeprecationWarning)
                self.model = torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as exc:
            raise ConfigError(f"image model {path}: not a TorchScript file: {str(exc).splitlines()[0]}") from None
        self.path, self.normalize = path, normalize
        self._torch = torch

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 RGB -> ``(T, D)`` float32."""
        torch = self._torch
        images = crops.astype(np.float32) / 255.0
        if self.normalize == "imagenet":
            images = (images - IMAGENET_MEAN) / IMAGENET_STD
        batch = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        with torch.inference_mode():
            out = self.model(batch)
        if not isinstance(out, torch.Tensor):
            raise ConfigError(f"image model {self.path}: returned {type(out).__name__}, expected a tensor")
        return out.reshape(out.shape[0], -1).float().numpy()


def audio_extractor(path: str | Path, layer: int = -1, sample_rate: int = 16000) -> AudioExtractor:
    """This process's cached :class:`AudioExtractor` for ``path`` and ``layer``."""
    key = f"{Path(path).expanduser().resolve()}#{layer}#{sample_rate}"
    if key not in _AUDIO_MODELS:
        _AUDIO_MODELS[key] = AudioExtractor(path, layer, sample_rate)
    return _AUDIO_MODELS[key]


def image_extractor(path: str | Path, normalize: str = "imagenet") -> ImageExtractor:
    """This process's cached :class:`ImageExtractor` for ``path``."""
    key = f"{Path(path).expanduser().resolve()}#{normalize}"
    if key not in _IMAGE_MODELS:
        _IMAGE_MODELS[key] = ImageExtractor(path, normalize)
    return _IMAGE_MODELS[key]
