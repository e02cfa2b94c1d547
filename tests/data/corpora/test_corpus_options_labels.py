"""Adapter options (checked, paths absolute, part of the store key), a saved manifest read back,
declared and inferred label vocabularies, and label files that leave nothing usable."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from corpus_replicas import CREMAD_CLIPS, cremad_tree, mspimprov_tree, touch

from bench.data.corpora import CorpusWarning, adapter_options, build_manifest
from bench.data.prepare import PrepareConfig, store_key
from bench.errors import ConfigError


def quiet(dataset, root, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CorpusWarning)
        return build_manifest(dataset, root, **options)


def write_msp_labels(path: Path, names, codes) -> Path:
    lines = ["FileName,EmoClass"] + [f"{name}.avi,{codes[i % len(codes)]}" for i, name in enumerate(names)]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- case 1: options ----------------------------------------------------------------------------
def test_unknown_option_lists_the_valid_ones(tmp_path):
    root = cremad_tree(tmp_path / "c")
    with pytest.raises(ConfigError, match=r"unknown option 'keep_unlabelled' for dataset 'cremad'\. Valid options: "
                                          r"label_source \(default 'intended'\), use_wav \(default True\)"):
        build_manifest("cremad", root, keep_unlabelled=True)
    with pytest.raises(ConfigError, match=r"unknown option 'labels' .*; did you mean label_source\? Valid options"):
        build_manifest("cremad", root, labels="x.csv")
    with pytest.raises(ConfigError, match="label_source must be one of"):
        build_manifest("cremad", root, label_source="voted")


def test_path_options_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = adapter_options("mspimprov", {"labels": "sub/labels.csv"})
    assert config.labels == str(tmp_path / "sub" / "labels.csv")
    # the manifest CSV adapter's `labels` is a vocabulary, not a path: left as written
    assert adapter_options("manifest", {"labels": "sad,happy"}).labels == "sad,happy"
    root, names = mspimprov_tree(tmp_path / "msp")
    (tmp_path / "sub").mkdir()
    write_msp_labels(tmp_path / "sub" / "labels.csv", names, "AHSN")
    assert len(quiet("mspimprov", root, labels="sub/labels.csv")) == 24


def test_options_are_part_of_the_store_key(tmp_path):
    root = cremad_tree(tmp_path / "c")
    config = PrepareConfig()
    intended = store_key(quiet("cremad", root), config)
    assert store_key(quiet("cremad", root, label_source="intended"), config) == intended
    perceived = store_key(quiet("cremad", root, label_source="perceived"), config)
    assert perceived != intended
    assert store_key(quiet("cremad", root, label_source="perceived"), config) == perceived

    msp, names = mspimprov_tree(tmp_path / "msp")
    one = write_msp_labels(tmp_path / "one.csv", names, "AHSN")
    two = write_msp_labels(tmp_path / "two.csv", names, "NSHA")
    key_one = store_key(quiet("mspimprov", msp, labels=str(one)), config)
    assert key_one != store_key(quiet("mspimprov", msp, labels=str(two)), config)
    assert key_one == store_key(quiet("mspimprov", msp, labels=str(one)), config)


def test_study_options_table_is_read_and_checked(tmp_path):
    from bench.studies.loader import load_study

    path = tmp_path / "study.toml"
    path.write_text('[study]\nkind = "comparison"\nmodels = ["deiii"]\ndataset = "cremad"\n'
                    '[study.options]\nlabel_source = "perceived"\n')
    assert load_study(path).options == {"label_source": "perceived"}
    path.write_text('[study]\nkind = "comparison"\nmodels = ["deiii"]\ndataset = "cremad"\n'
                    '[study.options]\nlabel_sourc = "perceived"\n')
    with pytest.raises(ConfigError, match=r"study.toml \[study.options\]: unknown option 'label_sourc'.*did you mean label_source"):
        load_study(path)


def test_open_dataset_passes_options_and_prints_warnings(tmp_path, monkeypatch):
    import bench.data.prepare as prepare_module
    from bench.data.open import open_dataset

    seen = []
    monkeypatch.setattr(prepare_module, "prepare", lambda manifest, config, **kw: seen.append(manifest) or "store")
    said = []
    store, dataset, synthetic = open_dataset("cremad", cremad_tree(tmp_path / "c"), options={"label_source": "perceived"},
                                             say=said.append)
    assert (store, dataset, synthetic) == ("store", "cremad", False)
    assert len(seen[0]) == 7  # the perceived labeling: 3 clips have no majority vote or no row
    assert any(line.startswith("warning: cremad: excluded 1 clips: not in summaryTable.csv") for line in said)
    with pytest.raises(ConfigError, match="unknown option 'label'"):
        open_dataset("cremad", None, options={"label": "x"}, say=said.append)


# -- case 2: what `bench manifest` writes reads back ----------------------------------------------
def test_saved_manifest_reads_back_from_another_folder(tmp_path):
    m = quiet("cremad", cremad_tree(tmp_path / "corpus"), label_source="perceived")
    saved = m.save(tmp_path / "elsewhere" / "deep" / "cremad.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorpusWarning)  # no missing media, no inferred vocabulary
        back = build_manifest("manifest", saved)
    assert back.labels == m.labels  # the declared class order, not a sorted guess
    assert back.corpus == "cremad" and back.frame["clip_id"].tolist() == m.frame["clip_id"].tolist()
    for column in ("video_path", "audio_path"):
        paths = [back.media_path(v) for v in back.frame[column]]
        assert all(p.is_file() for p in paths) and len(paths) == len(m)


def test_manifest_without_sidecar_resolves_against_its_own_folder(tmp_path):
    touch(tmp_path / "media" / "a.mp4")
    path = tmp_path / "list.csv"
    path.write_text("clip_id,speaker,video_path,label\na,s1,media/a.mp4,sad\n")
    m = build_manifest("manifest", path, labels="sad")
    assert m.root == tmp_path and m.media_path(m.frame["video_path"][0]).is_file()


# -- case 4: label vocabularies -----------------------------------------------------------------
def test_unknown_label_with_a_declared_vocabulary_names_lines(tmp_path):
    for name in "abcd":
        touch(tmp_path / "m" / f"{name}.mp4")
    path = tmp_path / "my.csv"
    path.write_text("clip_id,speaker,video_path,label\na,s1,m/a.mp4,sad\nb,s1,m/b.mp4,hapy\n"
                    "c,s2,m/c.mp4,happy\nd,s2,m/d.mp4,hapy\n")
    with pytest.raises(ConfigError, match=r"my.csv: labels \['hapy'\] are not in the given vocabulary \(labels option\) "
                                          r"\['sad', 'happy'\]: 'hapy' on lines 3, 5"):
        build_manifest("manifest", path, labels="sad,happy")
    # a saved manifest declares its vocabulary in the sidecar: an edited typo is caught too
    m = quiet("cremad", cremad_tree(tmp_path / "c"))
    saved = m.save(tmp_path / "out" / "cremad.csv")
    saved.write_text(saved.read_text().replace("1002_ITH_FEA_MD,cremad,1002,F,,fearful", "1002_ITH_FEA_MD,cremad,1002,F,,feared"))
    with pytest.raises(ConfigError, match=r"labels \['feared'\] are not in the vocabulary declared in cremad.csv.json "
                                          r"\['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgust'\]: 'feared' on line 7"):
        build_manifest("manifest", saved)


def test_inferred_vocabulary_is_announced_with_counts(tmp_path):
    for name in "abc":
        touch(tmp_path / "m" / f"{name}.mp4")
    path = tmp_path / "my.csv"
    path.write_text("clip_id,speaker,video_path,label\na,s1,m/a.mp4,sad\nb,s1,m/b.mp4,hapy\nc,s2,m/c.mp4,sad\n")
    with pytest.warns(CorpusWarning, match=r"NO LABEL VOCABULARY DECLARED.*2 classes: hapy \(1 clips\), sad \(2 clips\)"):
        m = build_manifest("manifest", path)
    assert m.labels == ("hapy", "sad")


def test_all_labels_empty_and_no_targets_is_an_error(tmp_path):
    touch(tmp_path / "m" / "a.mp4")
    path = tmp_path / "my.csv"
    path.write_text("clip_id,speaker,video_path,label\na,s1,m/a.mp4,\n")
    with pytest.raises(ConfigError, match="every row's label is empty .* nothing to learn from"):
        build_manifest("manifest", path)


# -- case 5: nothing usable ---------------------------------------------------------------------
def test_mspimprov_labels_all_outside_the_task_say_why(tmp_path):
    root, names = mspimprov_tree(tmp_path / "msp")
    labels = write_msp_labels(tmp_path / "labels.csv", names[:20], "OX")
    with pytest.raises(ConfigError) as info:
        quiet("mspimprov", root, labels=str(labels))
    text = str(info.value)
    assert "mspimprov: no usable clips under" in text and "24 videos found" in text
    assert "4 videos excluded as not in the label file" in text
    assert "20 videos have a label outside the task's classes ['neutral', 'happy', 'sad', 'angry']" in text
    assert "labels found {'O': 10, 'X': 10}" in text and "label_source=target" in text
    # with keep_unlabelled but no arousal/valence/dominance there is still nothing to learn
    with pytest.raises(ConfigError, match="20 videos have a label outside"):
        quiet("mspimprov", root, labels=str(labels), keep_unlabelled=True)


def test_mspimprov_label_ids_matching_no_video_say_so(tmp_path):
    root, _ = mspimprov_tree(tmp_path / "msp")
    labels = tmp_path / "labels.csv"
    labels.write_text("FileName,EmoClass\nutt_0001,A\nutt_0002,H\n")
    with pytest.raises(ConfigError, match=r"label file .*labels.csv has 2 rows, 0 of which name one of those videos; "
                                          r"24 videos excluded as not in the label file \(label file ids look like utt_0001"):
        quiet("mspimprov", root, labels=str(labels))


def test_cremad_perceived_with_no_majority_anywhere_says_why(tmp_path):
    root = cremad_tree(tmp_path / "c")
    lines = [",FileName,VoiceVote,VoiceLevel,FaceVote,FaceLevel,MultiModalVote,MultiModalLevel"]
    lines += [f"{i},{clip},X,0,X,0,{'X' if i % 2 else 'A:N'},0" for i, clip in enumerate(CREMAD_CLIPS[:8])]
    (root / "processedResults" / "summaryTable.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as info:
        quiet("cremad", root, label_source="perceived")
    text = str(info.value)
    assert "10 VideoFlash takes found, all excluded by label_source='perceived'" in text
    assert "2 have no row in" in text
    assert "8 have a MultiModalVote that is not one of the accepted majority letters ['A', 'D', 'F', 'H', 'N', 'S'] " \
           "(values found {" in text and "'X': 4" in text and "'A:N': 4" in text
