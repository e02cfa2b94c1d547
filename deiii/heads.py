"""DE-III's three prediction heads: video, audio and fused.

DE-III (Shi et al., arXiv 2405.16701; no official code) trains a video head (video features
with audio fused in), an audio head (the converse) and a fused head jointly, with losses L_V,
L_A, L_F (cross-entropy for classes, CCC loss for continuous labels), and predicts at test
time with the head that is best on validation data. Each head is an MLP after VAVL
(github.com/ilucasgoncalves/VAVL): in -> 512 -> 256 -> C with ReLU and dropout.

The heads are per-vector MLPs, so the same modules serve both placements: after time pooling
(``(B, D) -> (B, C)``, clip-level tasks) and per time step (``(B, T, D) -> (B, T, K)``, task
"frame"); the parameter count does not depend on the task.
"""

from __future__ import annotations

from typing import Sequence

from torch import nn

from bench.nn.dropout import Dropout


class MLPHead(nn.Sequential):
    def __init__(self, in_dim: int, hidden: Sequence[int], num_outputs: int, dropout: float):
        layers: list[nn.Module] = []
        previous = in_dim
        for width in hidden:
            layers += [nn.Linear(previous, width), nn.ReLU(inplace=True), Dropout(dropout)]
            previous = width
        layers.append(nn.Linear(previous, num_outputs))
        super().__init__(*layers)
