"""DE-III, top to bottom in the order of the paper's Figure 1.

Shi, Ge, Jose, Pugeault, Henderson, "Detail-Enhanced Intra- and Inter-modal Interaction for
Audio-Visual Emotion Recognition", arXiv 2405.16701. There is no official code; sizes and the
training recipe follow VAVL (github.com/ilucasgoncalves/VAVL), its closest public relative,
and every interpretation is a field of :class:`~deiii.config.DEIIIConfig`.

    frames v ──frontend──▶ proj ─┐
                                 ├─ pair-wise O-V fusion ─▶ video Conformer ─┐
    flow o ──frontend──▶ proj ───┘                                          ├─ IFE-Audio / IFE-Video
    log-mel a ──frontend──▶ proj ─────────────────────────▶ audio Conformer ─┘        │
                                                                                      ▼
          video head ◀─ pool(v')     audio head ◀─ pool(a')     fused head ◀─ fusion stage(a', v')

Per-step heads (task "frame", per-frame valence / arousal): the same three heads without the
time pooling. The video head reads v' at every video step; the audio head reads a' at every
audio step and its predictions are brought to the video steps by linear interpolation
(:func:`~bench.models.contract.to_frame_steps`); the fused head reads, per video step, the
fusion stage's audio part (interpolated to that step) concatenated with its video part, the
same 2 x d_model layout as the pooled input. All three outputs are (B, T, K) on the batch's
video steps, so the three losses, the validation-best head and the trainer's "mean" of the
heads keep their meaning per step.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.models.contract import AVModel, Batch, ModelOutput, to_frame_steps
from bench.errors import ConfigError
from bench.nn.attention import masked_mean
from bench.nn.frontends import build_audio_frontend, build_video_frontend
from bench.models.registry import register_model
from deiii.config import SMALL, DEIIIConfig
from deiii.conformer import SequenceEncoder
from deiii.flow_pathway import FlowPathway
from deiii.fusion import FusionStage
from deiii.heads import MLPHead
from deiii.ife import InterModalEnhancement
from deiii.ov_fusion import build_ov_fusion

PAPER = (
    "Shi, Ge, Jose, Pugeault, Henderson. Detail-Enhanced Intra- and Inter-modal Interaction "
    "for Audio-Visual Emotion Recognition. arXiv:2405.16701 (2024)"
)
CODE = "no official code; defaults after VAVL, https://github.com/ilucasgoncalves/VAVL"


def _check(config: DEIIIConfig) -> None:
    if config.d_model % config.num_heads:
        raise ConfigError(f"deiii: d_model={config.d_model} is not divisible by num_heads={config.num_heads}")
    if config.pos_encoding == "rotary" and (config.d_model // config.num_heads) % 2:
        raise ConfigError("deiii: rotary positions need an even head width (d_model / num_heads)")
    if config.conv_kernel % 2 == 0:
        raise ConfigError(f"deiii: conv_kernel must be odd, got {config.conv_kernel}")
    unknown = set(config.loss_weights) - {"video", "audio", "fused"}
    if unknown:
        raise ConfigError(f"deiii: loss_weights has unknown heads {sorted(unknown)}; use video, audio, fused")


@register_model(
    "deiii",
    DEIIIConfig,
    # VAVL's recipe (the DE-III paper's own is not available): Adam, lr 5e-5, 20 epochs, batch 32.
    recipe={"optimizer": "adam", "lr": 5e-5, "epochs": 20, "batch_size": 32},
    paper=PAPER,
    code=CODE,
    presets={"small": SMALL},
    dataset_presets={"synthetic": {
        # At VAVL's size DE-III trains at ~3 clips/s on a 2-core CPU: the small preset, with a
        # learning rate for 20 epochs instead of VAVL's 5e-5 over many more steps.
        "cpu": {**SMALL, "train.lr": 1e-3},
        # Keep the selected weights so reports can draw the IFE attention maps (Figure 2).
        "*": {"train.save_state": True},
    }},
)
class DEIII(AVModel):
    """DE-III: flow-enhanced video and audio Conformers, bidirectional IFE, three heads."""

    config: DEIIIConfig
    # The IFE maps, drawn by reports in the style of the paper's Figure 2.
    report_attention = ("ife_audio", "ife_video",
                        "DE-III IFE attention weights (audio→video, video→audio), in the style of the paper's Figure 2")

    def __init__(self, config: DEIIIConfig):
        super().__init__(config)
        _check(config)
        c = config
        self.video_frontend = build_video_frontend(c, c.frontend_dim)
        self.video_proj = nn.Linear(c.frontend_dim, c.d_model)  # VAVL: 50 -> 512
        self.audio_frontend = build_audio_frontend(c, c.frontend_dim)
        self.audio_proj = nn.Linear(c.frontend_dim, c.d_model)
        if c.uses_flow:
            self.flow = FlowPathway(c)
            self.ov_fusion = build_ov_fusion(c)

        def encoder() -> SequenceEncoder:
            return SequenceEncoder(c.encoder, c.d_model, c.num_layers, c.num_heads, c.ff_mult,
                                   c.conv_kernel, c.dropout, c.pos_encoding, c.conv_norm)

        self.video_encoder = encoder()
        self.audio_encoder = encoder()
        self.ife = InterModalEnhancement(c)
        self.fusion = FusionStage(c)
        self.heads = nn.ModuleDict({
            "video": MLPHead(c.d_model, c.head_hidden, c.num_outputs, c.head_dropout),
            "audio": MLPHead(c.d_model, c.head_hidden, c.num_outputs, c.head_dropout),
            "fused": MLPHead(self.fusion.out_dim, c.head_hidden, c.num_outputs, c.head_dropout),
        })

    def required_inputs(self) -> tuple[str, ...]:
        return ("video", "flow", "audio") if self.config.uses_flow else ("video", "audio")

    def head_weights(self) -> dict[str, float]:
        return dict(self.config.loss_weights)

    @classmethod
    def chance_loss_scale(cls, config) -> float:
        """L_V + L_A + L_F are summed with ``loss_weights``: at uniform predictions the loss is
        their sum times ln C (3 ln C by default), not ln C."""
        weights = (config or {}).get("loss_weights") or DEIIIConfig().loss_weights
        return float(sum(weights.values()))

    def forward(self, batch: Batch) -> ModelOutput:
        c = self.config
        attention = {}
        video, video_mask = self.get_input(batch, "video")
        audio, audio_mask = self.get_input(batch, "audio")

        # Intra-modal: frames (enhanced by their motion) and audio, each through its encoder.
        v, video_mask = self.video_frontend(video, video_mask)
        v = self.video_proj(v)
        if c.uses_flow:
            flow, flow_mask = self.get_input(batch, "flow")
            o = self.flow(flow, flow_mask, video_mask)
            v, ov_weights = self.ov_fusion(v, o, need_weights=c.return_attention)
            if ov_weights is not None:
                attention["ov_pair"] = ov_weights
        a, audio_mask = self.audio_frontend(audio, audio_mask)
        a = self.audio_proj(a)
        v = self.video_encoder(v, video_mask)
        a = self.audio_encoder(a, audio_mask)

        # Inter-modal: each stream enhanced by the other, then the further fusion stage.
        a, v, ife_maps = self.ife(a, audio_mask, v, video_mask, need_weights=c.return_attention)
        attention.update(ife_maps)
        if c.task == "frame":
            return ModelOutput(logits=self._per_step_heads(batch, a, audio_mask, v, video_mask), attention=attention)
        fused = self.fusion(a, audio_mask, v, video_mask)

        logits = {
            "video": self.heads["video"](masked_mean(v, video_mask)),
            "audio": self.heads["audio"](masked_mean(a, audio_mask)),
            "fused": self.heads["fused"](fused),
        }
        return ModelOutput(logits=logits, attention=attention)

    def _per_step_heads(self, batch: Batch, a, audio_mask, v, video_mask) -> dict[str, torch.Tensor]:
        """Task "frame": the three heads at every step, aligned to the batch's video steps."""
        fused_audio, fused_video = self.fusion.sequences(a, audio_mask, v, video_mask)
        joint = torch.cat((to_frame_steps(fused_audio, audio_mask, batch),
                           to_frame_steps(fused_video, video_mask, batch)), dim=-1)
        return {
            "video": to_frame_steps(self.heads["video"](v), video_mask, batch),
            "audio": to_frame_steps(self.heads["audio"](a), audio_mask, batch),
            "fused": self.heads["fused"](joint),
        }
