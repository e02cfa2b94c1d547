"""Every shipped CREMA-D and RAVDESS protocol, end to end on replica corpora the test builds:
the adapter options give the manifest, the scheme's folds assign its clips by speaker, and the
run's (dataset, scheme, options) resolve back to the same protocol id and checksum."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "data" / "corpora"))  # corpus_replicas

from corpus_replicas import ravdess_tree, touch  # noqa: E402

from bench.data.corpora import build_manifest  # noqa: E402
from bench.protocols import list_protocols, protocol_for  # noqa: E402
from bench.splits import get_scheme  # noqa: E402
from bench.data.corpora.cremad import GENDERS as CREMAD_GENDERS  # noqa: E402

EMOTIONS = {"ANG": "A", "DIS": "D", "FEA": "F", "HAP": "H", "NEU": "N", "SAD": "S"}


def cremad_all_actors(root: Path) -> Path:
    """Every CREMA-D actor with one clip per emotion (sentence DFA), each with a majority vote."""
    lines = [",FileName,VoiceVote,VoiceLevel,FaceVote,FaceLevel,MultiModalVote,MultiModalLevel"]
    demographics = ['"ActorID","Age","Sex","Race","Ethnicity"']
    for i, actor in enumerate(sorted(CREMAD_GENDERS)):
        sex = "Male" if CREMAD_GENDERS[actor] == "M" else "Female"
        demographics.append(f'{actor},30,"{sex}","Caucasian","Not Hispanic"')
        for emotion, vote in EMOTIONS.items():
            clip = f"{actor}_DFA_{emotion}_XX"
            touch(root / "VideoFlash" / f"{clip}.flv")
            touch(root / "AudioWAV" / f"{clip}.wav")
            lines.append(f"{len(lines)},{clip},{vote},60,{vote},60,{vote},60")
    (root / "VideoDemographics.csv").write_text("\n".join(demographics) + "\n")
    touch(root / "processedResults" / "summaryTable.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("replicas")
    return {"cremad": cremad_all_actors(root / "cremad"), "ravdess": ravdess_tree(root / "ravdess", actors=range(1, 25))}


@pytest.mark.parametrize("protocol", [p for p in list_protocols() if p.corpus in ("cremad", "ravdess")], ids=lambda p: p.id)
def test_protocol_manifest_folds_and_identity(corpora, protocol):
    options = dict(protocol.options)
    manifest = build_manifest(protocol.corpus, corpora[protocol.corpus], **options)
    assert set(manifest.frame["label"]) == set(protocol.classes)
    scheme = get_scheme(protocol.corpus, protocol.scheme, manifest=manifest)
    speakers_of = manifest.frame.set_index("clip_id")["speaker"]
    for fold in scheme.folds:
        ids = fold.assign(manifest)
        for part in ("train", "val", "test"):
            assert set(speakers_of[ids[part]]) == set(getattr(fold, part)), (fold.name, part)
    again = protocol_for(protocol.corpus, scheme, options)
    assert (again.id, again.checksum) == (protocol.id, protocol.checksum)
