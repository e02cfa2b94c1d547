"""The DE-III configuration: every interpretation of the paper is a documented field.

Shi, Ge, Jose, Pugeault, Henderson, "Detail-Enhanced Intra- and Inter-modal Interaction for
Audio-Visual Emotion Recognition", arXiv 2405.16701. There is no official code: only the
abstract and the caption of Figure 1 are known for sure (flow pathway, pair-wise O-V attention
fusion, Conformer encoders for audio and video, IFE modules in both directions with residual
connections, three jointly trained heads, the validation-best head at inference). Sizes and
training defaults follow the closest public relative, VAVL (Goncalves et al.,
github.com/ilucasgoncalves/VAVL): a k=1 projection to 50-d then Linear 50->512, Conformer
d_model 512 with 8 heads, feed-forward x4, depthwise kernel 31, dropout 0.1, 3 layers per
modality, a 2-layer shared stage, heads 512->512->256->C.

Every ablation of the paper is a config change: ``use_flow``, ``ov_fusion``, ``ife``,
``encoder``. ``SMALL`` holds the overrides of the small preset the synthetic CPU runs use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bench.models.contract import ModelConfig


@dataclass
class DEIIIConfig(ModelConfig):
    # -- inputs and frontends ---------------------------------------------------------------
    frontend_dim: int = 50  # per-step bottleneck after each frontend (VAVL's Conv1d(k=1) to 50-d)
    frontend_channels: tuple[int, ...] = (32, 64, 128, 256)  # widths of the per-frame CNN stages (raw frames/flow)
    audio_frontend_stride: int = 2  # stride of each of the two log-mel conv1d layers (time / stride**2)

    # -- optical-flow pathway and pair-wise O-V fusion --------------------------------------
    use_flow: bool = True  # ablation: False drops the flow pathway (and the need for a "flow" input)
    # How flow features o_i enhance frame features v_i before the video encoder:
    # "attention": per time step, the 2-token sequence [v_i, o_i] runs multi-head self-attention
    #   (each token attends to itself and to its partner; pre-LN, residual), and the two
    #   outputs are averaged -- our reading of the paper's "pair-wise O-V attention fusion";
    # "concat": Linear([v_i; o_i]); "add": v_i + o_i; "none": no flow (same as use_flow=False).
    ov_fusion: Literal["attention", "concat", "add", "none"] = "attention"
    # The T-1 flow fields lie between frames. "arrival": o_i (frame i -> i+1) is paired with
    # v_{i+1} (the motion that produced the frame) and frame 0 gets a learned "no flow" token;
    # "departure": o_i is paired with v_i and the last frame gets the learned token.
    flow_alignment: Literal["arrival", "departure"] = "arrival"

    # -- encoders -------------------------------------------------------------------------
    d_model: int = 512  # width of every encoder (VAVL's encoder_dim)
    num_heads: int = 8  # attention heads everywhere (VAVL / Conformer default)
    num_layers: int = 3  # encoder layers per modality (VAVL)
    ff_mult: int = 4  # feed-forward expansion (Conformer / VAVL)
    conv_kernel: int = 31  # Conformer depthwise convolution kernel (Conformer / VAVL)
    conv_norm: Literal["batch", "layer"] = "batch"  # norm after the depthwise conv (Conformer: BatchNorm, masked here)
    dropout: float = 0.1  # dropout in every encoder sub-layer (VAVL)
    encoder: Literal["conformer", "transformer"] = "conformer"  # ablation: plain pre-LN Transformer layers, same width
    # Positional information in the encoders' self-attention: "rotary" (relative positions by
    # rotating queries/keys; works with fused SDPA), "absolute" (sinusoidal table added at the
    # encoder input), "none". The paper does not say; Conformer uses relative positions.
    pos_encoding: Literal["rotary", "absolute", "none"] = "rotary"

    # -- inter-modal feature enhancement (IFE) ----------------------------------------------
    # "both": IFE-Audio (audio queries video) and IFE-Video (video queries audio); "audio" /
    # "video": only one direction; "none": the streams stay separate until the fusion stage.
    ife: Literal["both", "audio", "video", "none"] = "both"
    ife_ffn: bool = True  # a residual feed-forward after each IFE cross-attention (transformer-style block)

    # -- fusion stage and heads -------------------------------------------------------------
    # Head placement follows ``task``: after time pooling for "classification" / "regression",
    # per video step for "frame" (per-frame valence / arousal; the same three heads and the
    # same parameters, see deiii/model.py). No separate switch: the contract fixes the shape.
    fusion_layers: int = 2  # joint Transformer layers over the concatenated enhanced streams (VAVL's shared stage: 2); 0 = pool only
    head_hidden: tuple[int, ...] = (512, 256)  # hidden widths of each head (VAVL: 512 -> 512 -> 256 -> C)
    head_dropout: float = 0.1  # dropout after each hidden head layer (VAVL's out_dropout; value assumed)
    loss_weights: dict[str, float] = field(
        default_factory=lambda: {"video": 1.0, "audio": 1.0, "fused": 1.0}
    )  # weights of L_V, L_A, L_F in the summed loss (the paper trains all three jointly)
    return_attention: bool = True  # compute and return IFE / O-V attention maps (Figure 2); False uses fused SDPA only
    inference_head: str = "validation"  # the paper predicts with the head that is best on validation

    @property
    def uses_flow(self) -> bool:
        return self.use_flow and self.ov_fusion != "none"


# The small preset used for synthetic CPU runs (d_model 128, 4 heads, 2 layers): see the
# benchmark in tests/benchmarks/test_train_step_bench.py for its cost.
SMALL: dict[str, object] = {
    "d_model": 128,
    "num_heads": 4,
    "num_layers": 2,
    "fusion_layers": 1,
    "conv_kernel": 15,
    "head_hidden": (128, 64),
    "frontend_channels": (16, 32, 64, 128),
}
