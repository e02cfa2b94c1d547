"""Replica corpus trees for the adapter tests: empty files named exactly like the real corpora.

Adapters read names, never media content, so a zero-byte ``1001_DFA_ANG_XX.flv`` is as good as
the real one for them.
"""

from __future__ import annotations

from pathlib import Path


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


# --- CREMA-D -------------------------------------------------------------------------------
CREMAD_CLIPS = (
    "1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1001_TIE_SAD_LO", "1001_IOM_NEU_XX",
    "1002_ITH_FEA_MD", "1002_IWW_DIS_XX", "1002_DFA_ANG_HI", "1002_MTI_HAP_XX",
    "1091_WSI_SAD_XX", "1091_TSI_NEU_XX",
)
# MultiModalVote per clip: a majority letter, a tie, no agreement, or (missing) no row at all.
CREMAD_VOTES = {
    "1001_DFA_ANG_XX": "A", "1001_IEO_HAP_HI": "H", "1001_TIE_SAD_LO": "N",  # perceived != intended
    "1001_IOM_NEU_XX": "N", "1002_ITH_FEA_MD": "X", "1002_IWW_DIS_XX": "D:N",
    "1002_DFA_ANG_HI": "A", "1002_MTI_HAP_XX": "H", "1091_WSI_SAD_XX": "S",
    # 1091_TSI_NEU_XX: no row
}


def cremad_tree(root: Path, *, wav: bool = True, demographics: bool = True, summary: bool = True) -> Path:
    for clip in CREMAD_CLIPS:
        touch(root / "VideoFlash" / f"{clip}.flv")
        if wav:
            touch(root / "AudioWAV" / f"{clip}.wav")
    if demographics:
        (root / "VideoDemographics.csv").write_text(
            '"ActorID","Age","Sex","Race","Ethnicity"\n'
            '1001,51,"Male","Caucasian","Not Hispanic"\n'
            '1002,21,"Female","Caucasian","Not Hispanic"\n'
            '1091,29,"Female","Asian","Not Hispanic"\n'
        )
    if summary:
        lines = [",FileName,VoiceVote,VoiceLevel,FaceVote,FaceLevel,MultiModalVote,MultiModalLevel"]
        for i, (clip, vote) in enumerate(CREMAD_VOTES.items(), 1):
            lines.append(f"{i},{clip},{vote},60,{vote},60,{vote},60")
        touch(root / "processedResults" / "summaryTable.csv").write_text("\n".join(lines) + "\n")
    return root


# --- RAVDESS -------------------------------------------------------------------------------
def ravdess_trials(actor: int, channel: str = "01"):
    """The 60 speech trials (or 44 song trials: no disgust/surprised, no calm... kept simple) of an actor."""
    emotions = ["01", "02", "03", "04", "05", "06", "07", "08"] if channel == "01" else ["01", "02", "03", "04", "05", "06"]
    for emotion in emotions:
        for intensity in (["01"] if emotion == "01" else ["01", "02"]):
            for statement in ("01", "02"):
                for repetition in ("01", "02"):
                    yield f"{channel}-{emotion}-{intensity}-{statement}-{repetition}-{actor:02d}"


def ravdess_tree(root: Path, actors=(1, 2), *, modalities=("01", "02", "03"), song: bool = False) -> Path:
    for actor in actors:
        folder = root / f"Actor_{actor:02d}"
        for trial in ravdess_trials(actor):
            for modality in modalities:
                touch(folder / f"{modality}-{trial}.{'wav' if modality == '03' else 'mp4'}")
        if song:
            for trial in ravdess_trials(actor, "02"):
                touch(folder / f"01-{trial}.mp4")
    return root


# --- MSP-IMPROV ------------------------------------------------------------------------------
def mspimprov_name(session: int, gender: str, emotion: str = "A", sentence: int = 8, condition: str = "S", n: int = 1) -> str:
    return f"MSP-IMPROV-S{sentence:02d}{emotion}-{gender}{session:02d}-{condition}-FM{n:02d}"


def mspimprov_tree(root: Path) -> tuple[Path, list[str]]:
    """Two clips per actor of all 12 actors (video + wav), in session folders."""
    names = []
    for session in range(1, 7):
        for gender in "FM":
            for n, (emotion, condition) in enumerate((("A", "S"), ("H", "P")), 1):
                name = mspimprov_name(session, gender, emotion, 8 + n, condition, n)
                touch(root / "Video" / f"session{session}" / f"{name}.avi")
                touch(root / "Audio" / f"session{session}" / f"{name}.wav")
                names.append(name)
    return root, names
