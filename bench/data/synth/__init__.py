"""The built-in synthetic corpus (``bench synth``): real media files laid out like RAVDESS or
CREMA-D, with emotion cues split across channels by design.

It proves the machinery and the ablations, not emotion recognition. See
:mod:`bench.data.synth.design` for the class -> cue table.
"""

from bench.data.synth.design import CLASSES, DESIGN, MOTION_ONLY_PAIR, VOICE_ONLY_PAIR, design_table
from bench.data.synth.generate import (
    CONFIG_FILE,
    META_FILE,
    SynthConfig,
    corpus_key,
    ensure_synthetic_corpus,
    generate_corpus,
    plan_corpus,
    read_meta,
    synthesize_clip,
)



def is_synthetic_root(root) -> bool:
    """Whether ``root`` holds a corpus that ``bench synth`` generated (any layout): each layout
    writes its config file last, so its presence marks a finished synthetic corpus. Runs and
    reports on it are labelled SYNTHETIC whatever adapter reads it."""
    from pathlib import Path

    from bench.data.synth.affwild2 import CONFIG_FILE as FRAME_LEVEL_CONFIG_FILE

    try:
        folder = Path(root)
        return (folder / CONFIG_FILE).is_file() or (folder / FRAME_LEVEL_CONFIG_FILE).is_file()
    except (TypeError, OSError):
        return False


__all__ = [
    "is_synthetic_root",
    "CLASSES",
    "CONFIG_FILE",
    "DESIGN",
    "META_FILE",
    "MOTION_ONLY_PAIR",
    "VOICE_ONLY_PAIR",
    "SynthConfig",
    "corpus_key",
    "design_table",
    "ensure_synthetic_corpus",
    "generate_corpus",
    "plan_corpus",
    "read_meta",
    "synthesize_clip",
]
