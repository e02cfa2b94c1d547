"""Shared frontends: shapes, mask downsampling, and padding that never leaks into real steps."""

from dataclasses import dataclass

import pytest
import torch

from bench.models.contract import ModelConfig
from bench.errors import ConfigError
from bench.nn.frontends import (
    FeatureProjection,
    FrameCNN,
    LogMelFrontend,
    build_audio_frontend,
    build_flow_frontend,
    build_video_frontend,
)


@dataclass
class _Cfg(ModelConfig):
    frontend_channels: tuple[int, ...] = (8, 16)


def _pad(x, mask, extra):
    noise = 50 * torch.randn(x.shape[0], extra, *x.shape[2:])
    return torch.cat([x, noise], 1), torch.cat([mask, torch.zeros(x.shape[0], extra, dtype=torch.bool)], 1)


@pytest.mark.parametrize(
    "frontend, shape",
    [
        (FrameCNN(3, 12, (8, 16)), (3, 5, 3, 32, 32)),
        (FrameCNN(2, 12, (8, 16)), (3, 4, 2, 32, 32)),
        (LogMelFrontend(20, 12), (3, 37, 20)),
        (FeatureProjection(20, 12), (3, 6, 20)),
    ],
)
def test_padding_does_not_change_real_outputs(frontend, shape):
    torch.manual_seed(0)
    x = torch.randn(shape)
    mask = torch.ones(shape[:2], dtype=torch.bool)
    mask[1, 3:] = False
    frontend.train()  # BatchNorm statistics must not see padded frames either
    y, out_mask = frontend(x, mask)
    x2, mask2 = _pad(x, mask, 4)
    y2, out_mask2 = frontend(x2, mask2)
    assert y.shape[-1] == 12 and y.shape[:2] == out_mask.shape
    n = y.shape[1]
    assert torch.equal(out_mask2[:, :n], out_mask) and not out_mask2[:, n:].any()
    torch.testing.assert_close(y2[:, :n][out_mask], y[out_mask], atol=1e-5, rtol=1e-5)
    assert (y[~out_mask] == 0).all()


def test_logmel_downsamples_time_by_four_with_the_mask():
    frontend = LogMelFrontend(64, 16)
    mask = torch.zeros(2, 200, dtype=torch.bool)
    mask[0] = True
    mask[1, :101] = True
    y, out_mask = frontend(torch.randn(2, 200, 64), mask)
    assert y.shape == (2, 50, 16)
    assert out_mask.sum(1).tolist() == [50, 26]  # ceil(ceil(101 / 2) / 2)


def test_builders_pick_by_config_and_reject_unknown():
    cfg = _Cfg()
    assert isinstance(build_video_frontend(cfg, 8), FrameCNN)
    assert isinstance(build_flow_frontend(cfg, 8), FrameCNN)
    assert isinstance(build_audio_frontend(cfg, 8), LogMelFrontend)
    feats = _Cfg(video_input="features", flow_input="features", audio_input="features", video_dim=7, flow_dim=5, audio_dim=3)
    for build, dim in [(build_video_frontend, 7), (build_flow_frontend, 5), (build_audio_frontend, 3)]:
        module = build(feats, 8)
        assert isinstance(module, FeatureProjection) and module.proj.in_features == dim
    bad = _Cfg()
    object.__setattr__(bad, "video_input", "pixels")
    with pytest.raises(ConfigError, match="video_input"):
        build_video_frontend(bad, 8)


def test_frame_cnn_all_padding_gives_zeros():
    frontend = FrameCNN(3, 4, (8,))
    y, mask = frontend(torch.rand(2, 3, 3, 16, 16), torch.zeros(2, 3, dtype=torch.bool))
    assert y.shape == (2, 3, 4) and (y == 0).all()


@pytest.mark.parametrize("in_channels", [3, 2])
def test_channels_last_gradient_layout_changes_no_number(in_channels):
    """The fast kernels' frame CNN hands its trunk a channels_last gradient (speed only): every
    parameter gradient is bit-identical to the plain backward through the same weights."""
    from bench.nn import frontends

    torch.manual_seed(0)
    cnn = FrameCNN(in_channels, 32, (8, 16)).to(memory_format=torch.channels_last)
    x, mask = torch.randn(3, 5, in_channels, 24, 24), torch.ones(3, 5, dtype=torch.bool)
    weights = torch.linspace(-1, 1, 32)

    def grads() -> list[torch.Tensor]:
        cnn.zero_grad(set_to_none=True)
        out, _ = cnn(x, mask)
        (out * weights).sum().backward()
        return [p.grad.clone() for p in cnn.parameters()]

    calls = []
    real = frontends._ChannelsLastGrad.backward

    def spy(ctx, grad):
        calls.append(grad)
        return real(ctx, grad)

    frontends._ChannelsLastGrad.backward = staticmethod(spy)
    try:
        fast = grads()
    finally:
        frontends._ChannelsLastGrad.backward = staticmethod(real)
    assert calls and not calls[0].is_contiguous(memory_format=torch.channels_last)  # the pool's expanded gradient
    original = frontends.channels_last_grad
    frontends.channels_last_grad = lambda h: h
    try:
        plain = grads()
    finally:
        frontends.channels_last_grad = original
    assert all(torch.equal(a, b) for a, b in zip(fast, plain))
    assert frontends.channels_last_grad(torch.randn(2, 3, 4, 4, requires_grad=True)).grad_fn is None  # NCHW: untouched


def test_fold_real_is_a_view_only_under_fast_kernels_with_no_padding():
    from bench.nn.frontends import fold_real, unfold_real
    from bench.nn.kernels import use_kernels

    x = torch.randn(2, 3, 4)
    full, padded = torch.ones(2, 3, dtype=torch.bool), torch.tensor([[1, 1, 0], [1, 1, 1]]).bool()
    with use_kernels("fast"):
        assert fold_real(x, full).data_ptr() == x.data_ptr()  # a view: no frame is copied
        assert torch.equal(fold_real(x, padded), x[padded])
        assert unfold_real(x.flatten(0, 1), full).data_ptr() == x.data_ptr()
        back = unfold_real(x[padded], padded)
        assert torch.equal(back[padded], x[padded]) and (back[0, 2] == 0).all()
    with use_kernels("reference"):  # the path as it was: a gathered copy
        assert fold_real(x, full).data_ptr() != x.data_ptr()


@pytest.mark.parametrize("padding", [False, True])
def test_frame_cnn_fast_folding_changes_no_number(padding):
    """The fast kernels' frame folding (a view when no frame is padding) gives the outputs and
    every gradient of the gathered path, bit for bit (same weights, only the kernel set differs)."""
    from bench.nn.kernels import use_kernels

    torch.manual_seed(0)
    cnn = FrameCNN(3, 16, (8, 16))
    x = torch.randn(3, 5, 3, 24, 24)
    mask = torch.ones(3, 5, dtype=torch.bool)
    if padding:
        mask[1, 3:] = False
    weights = torch.linspace(-1, 1, 16)

    def run(kernels: str) -> list[torch.Tensor]:
        cnn.zero_grad(set_to_none=True)
        with use_kernels(kernels):
            out, _ = cnn(x, mask)
        (out * weights).sum().backward()
        return [out.detach()] + [p.grad.clone() for p in cnn.parameters()]

    assert all(torch.equal(a.view(torch.int32), b.view(torch.int32)) for a, b in zip(run("fast"), run("reference")))


def test_input_in_the_weights_layout_changes_no_number():
    """A channels_last trunk gets its input converted once (the convolution would copy it in
    its forward and again in its backward): outputs and gradients as without, bit for bit."""
    from bench.nn import frontends

    torch.manual_seed(0)
    cnn = FrameCNN(3, 16, (8, 16)).to(memory_format=torch.channels_last)
    x, mask = torch.randn(3, 5, 3, 24, 24), torch.ones(3, 5, dtype=torch.bool)
    frames = x[0]
    assert frontends.in_weight_layout(frames, cnn.trunk[0]).is_contiguous(memory_format=torch.channels_last)
    assert frontends.in_weight_layout(frames, FrameCNN(3, 16, (8,)).trunk[0]) is frames  # NCHW weights: untouched

    def run() -> list[torch.Tensor]:
        cnn.zero_grad(set_to_none=True)
        out, _ = cnn(x, mask)
        out.sum().backward()
        return [out.detach()] + [p.grad.clone() for p in cnn.parameters()]

    converted = run()
    original = frontends.in_weight_layout
    frontends.in_weight_layout = lambda h, conv: h
    try:
        plain = run()
    finally:
        frontends.in_weight_layout = original
    assert all(torch.equal(a.view(torch.int32), b.view(torch.int32)) for a, b in zip(converted, plain))
