"""The further fusion stage that feeds DE-III's fused head.

DE-III (Shi et al., arXiv 2405.16701; no official code) predicts from the enhanced video, the
enhanced audio and from both "after a further fusion stage". Our reading, close to VAVL's
shared Conformer stage (github.com/ilucasgoncalves/VAVL): the two enhanced sequences, each
tagged with a learned modality embedding, are concatenated along time and run through
``fusion_layers`` joint pre-LN Transformer layers (every audio step can attend to every video
step and vice versa, padding masked); then each modality's part is mean-pooled over its real
steps and the two vectors are concatenated (2 x d_model), VAVL's input to its fusion head.
With ``fusion_layers = 0`` the stage is just the pooled concatenation.

For per-step targets (task "frame") :meth:`FusionStage.sequences` returns the two jointly
encoded sequences before pooling; the model aligns them to the video steps and concatenates
them per step (the same 2 x d_model input of the same fused head).
"""

from __future__ import annotations

import torch
from torch import nn

from bench.nn.attention import masked_mean
from deiii.config import DEIIIConfig
from deiii.conformer import SequenceEncoder


class FusionStage(nn.Module):
    def __init__(self, config: DEIIIConfig):
        super().__init__()
        self.encoder = None
        if config.fusion_layers > 0:
            self.modality = nn.Parameter(torch.zeros(2, config.d_model))  # 0 = audio, 1 = video
            nn.init.normal_(self.modality, std=0.02)
            self.encoder = SequenceEncoder("transformer", config.d_model, config.fusion_layers, config.num_heads,
                                           config.ff_mult, config.conv_kernel, config.dropout, pos_encoding="none")
        self.out_dim = 2 * config.d_model

    def sequences(self, audio, audio_mask, video, video_mask) -> tuple[torch.Tensor, torch.Tensor]:
        """The audio and video parts after the joint layers, each on its own time axis."""
        if self.encoder is not None:
            t_a = audio.shape[1]
            joint = torch.cat((audio + self.modality[0], video + self.modality[1]), dim=1)
            joint_mask = torch.cat((audio_mask, video_mask), dim=1)
            joint = self.encoder(joint, joint_mask)
            audio, video = joint[:, :t_a], joint[:, t_a:]
        return audio, video

    def forward(self, audio, audio_mask, video, video_mask) -> torch.Tensor:
        audio, video = self.sequences(audio, audio_mask, video, video_mask)
        return torch.cat((masked_mean(audio, audio_mask), masked_mean(video, video_mask)), dim=-1)
