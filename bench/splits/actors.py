"""Who the actors are: the speaker ids and genders the shipped k-fold schemes balance over.

CREMA-D: the ``Sex`` column of the corpus's ``VideoDemographics.csv`` as published in the
corpus's own repository (github.com/CheyneyComputerScience/CREMA-D), actors 1001-1091 in order,
one letter each. It gives 48 male and 43 female actors, the counts the corpus paper reports.
RAVDESS: odd actor numbers are male, even female (the corpus's documented convention).
"""

from __future__ import annotations

# Actor 1001 + i has sex _CREMAD_SEX[i] (M/F), transcribed from VideoDemographics.csv.
_CREMAD_SEX = (
    "MFFFMFFFFFMFF"  # 1001-1013
    "MMMMFMFFMMFFM"  # 1014-1026
    "MFFFMMMMMMFMM"  # 1027-1039
    "MMMFMMFFMFMMF"  # 1040-1052
    "FFFFMFMFFMFMM"  # 1053-1065
    "MMMMMMFFFFFMF"  # 1066-1078
    "FMMFMFMMMMFMF"  # 1079-1091
)

CREMAD_GENDERS: dict[str, str] = {str(1001 + i): sex for i, sex in enumerate(_CREMAD_SEX)}
RAVDESS_GENDERS: dict[str, str] = {str(a): ("M" if a % 2 else "F") for a in range(1, 25)}
MSPIMPROV_SESSIONS: tuple[str, ...] = tuple(str(s) for s in range(1, 7))
