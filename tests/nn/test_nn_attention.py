"""Masked multi-head attention, positions and pooling."""

import torch

from bench.nn.attention import (
    MultiHeadAttention,
    RotaryEmbedding,
    lengths_to_mask,
    masked_mean,
    sinusoidal_positions,
)


def test_weights_shape_and_agreement_with_sdpa():
    torch.manual_seed(0)
    attn = MultiHeadAttention(16, 4).eval()
    q, kv = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    mask = lengths_to_mask(torch.tensor([7, 3]), 7)
    explicit, weights = attn(q, kv, kv, mask, need_weights=True)
    fused, none = attn(q, kv, kv, mask)
    assert weights.shape == (2, 4, 5, 7) and none is None
    torch.testing.assert_close(explicit, fused, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 5))
    assert weights[1, :, :, 3:].abs().max() == 0  # padded keys get no attention


def test_padded_keys_do_not_change_outputs():
    torch.manual_seed(0)
    attn = MultiHeadAttention(16, 2, rotary=True).eval()
    x = torch.randn(1, 4, 16)
    short, _ = attn(x, x, x, torch.ones(1, 4, dtype=torch.bool))
    padded = torch.cat([x, 100 * torch.randn(1, 3, 16)], dim=1)
    mask = lengths_to_mask(torch.tensor([4]), 7)
    long, _ = attn(padded, padded, padded, mask)
    torch.testing.assert_close(long[:, :4], short, atol=1e-5, rtol=1e-5)


def test_fully_masked_sample_stays_finite():
    attn = MultiHeadAttention(8, 2)
    x = torch.randn(2, 3, 8)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    out, w = attn(x, x, x, mask, need_weights=True)
    assert torch.isfinite(out).all() and torch.isfinite(w).all()
    out, _ = attn(x, x, x, mask)
    assert torch.isfinite(out).all()


def test_rotary_scores_depend_on_offset_only():
    rope = RotaryEmbedding(8)
    torch.manual_seed(0)
    q0, k0 = torch.randn(8), torch.randn(8)
    seq_q = q0.expand(1, 1, 6, 8).clone()
    seq_k = k0.expand(1, 1, 6, 8).clone()
    rq, rk = rope(seq_q, seq_k)
    scores = (rq @ rk.transpose(-2, -1))[0, 0]
    # same offset t - s -> same score, wherever the pair sits
    torch.testing.assert_close(scores[3, 1], scores[5, 3])
    torch.testing.assert_close(scores[0, 0], scores[4, 4])


def test_sinusoidal_and_masked_mean():
    table = sinusoidal_positions(10, 6)
    assert table.shape == (10, 6)
    torch.testing.assert_close(table[0], torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]))
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [2.0], [2.0]]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    torch.testing.assert_close(masked_mean(x, mask), torch.tensor([[2.0], [0.0]]))
