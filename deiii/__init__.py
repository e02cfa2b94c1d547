"""DE-III: Detail-Enhanced Intra- and Inter-modal Interaction for audio-visual emotion recognition.

Shi, Ge, Jose, Pugeault, Henderson, arXiv 2405.16701 (no official code). One module per
component of the paper's Figure 1: ``flow_pathway`` (optical flow -> features), ``ov_fusion``
(pair-wise O-V fusion), ``conformer`` (intra-modal encoders), ``ife`` (inter-modal feature
enhancement), ``fusion`` (the further fusion stage), ``heads``; ``model`` wires them and
registers the model as "deiii".
"""

from deiii.config import SMALL, DEIIIConfig
from deiii.model import DEIII

__all__ = ["DEIII", "DEIIIConfig", "SMALL"]
