"""``--option key=value`` reaches the corpus adapter from every command, study files carry
``[study.options]``, and bad corpus input ends as ``error: ...`` with exit code 2."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from corpus_replicas import cremad_tree, mspimprov_tree
from typer.testing import CliRunner

import bench.cli
from bench.cli import app
from bench.data.corpora import build_manifest
from bench.errors import ConfigError

bench.cli._load_commands()


class Captured(Exception):
    """Raised by the stubs below once they have recorded what they were called with."""


def capture(calls: list):
    def stub(*args, **kwargs):
        calls.append((args, kwargs))
        raise Captured()

    return stub


def msp_labels(path: Path, names) -> Path:
    path.write_text("FileName,EmoClass\n" + "".join(f"{n}.avi,{'AHSN'[i % 4]}\n" for i, n in enumerate(names)))
    return path


def bench_main(argv, monkeypatch, capsys) -> tuple[int, str, str]:
    """Run ``bench ARGV`` as the console script does; (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["bench", *argv])
    with pytest.raises(SystemExit) as info:
        bench.cli.main()
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


# -- case 1: the option reaches every command -----------------------------------------------------
OPTIONS = ["--option", "labels=/data/labels.csv", "--option", "label_source=perceived"]
EXPECTED = {"labels": "/data/labels.csv", "label_source": "perceived"}


@pytest.mark.parametrize("command,target,argv", [
    ("run", "bench.experiment.run", ["run", "--model", "deiii", "--dataset", "mspimprov", "--root", "/x"]),
    ("compare", "bench.report.compare.compare", ["compare", "--models", "deiii", "--dataset", "mspimprov", "--root", "/x"]),
    ("ablate", "bench.report.ablation.ablate", ["ablate", "--model", "deiii", "--dataset", "mspimprov", "--root", "/x"]),
    ("sweep", "bench.sweep.driver.sweep", ["sweep", "--study", "s.toml"]),
])
def test_every_command_passes_options(command, target, argv, monkeypatch):
    calls: list = []
    module, _, name = target.rpartition(".")
    monkeypatch.setattr(importlib.import_module(module), name, capture(calls))
    result = CliRunner().invoke(app, [*argv, *OPTIONS])
    assert isinstance(result.exception, Captured), result.output
    assert calls[0][1]["options"] == EXPECTED


def test_prepare_passes_options_to_the_adapter(monkeypatch):
    import bench.data.corpora as corpora

    calls: list = []
    monkeypatch.setattr(corpora, "build_manifest", capture(calls))
    result = CliRunner().invoke(app, ["prepare", "--dataset", "mspimprov", "--root", "/x", *OPTIONS])
    assert isinstance(result.exception, Captured), result.output
    assert calls[0][1] == {"strict": False, **EXPECTED}


def test_mspimprov_from_the_cli_with_a_relative_labels_path(tmp_path, monkeypatch):
    root, names = mspimprov_tree(tmp_path / "msp")
    msp_labels(tmp_path / "labels.csv", names)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "manifests" / "msp.csv"
    result = CliRunner().invoke(app, ["manifest", "--dataset", "mspimprov", "--root", "msp", "--option", "labels=labels.csv",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "mspimprov: 24 clips, 12 speakers" in result.output
    assert len(build_manifest("manifest", out)) == 24


def test_study_options_reach_the_dataset_and_the_cli_overrides_them(tmp_path, monkeypatch):
    import bench.data.open as opener
    import bench.experiment as experiment
    from bench.report.ablation import ablate
    from bench.report.compare import compare

    calls: list = []
    monkeypatch.setattr(opener, "open_dataset", capture(calls))
    study = tmp_path / "cmp.toml"
    study.write_text('[study]\nkind = "comparison"\nmodels = ["deiii"]\ndataset = "cremad"\nroot = "/c"\n'
                     '[study.options]\nlabel_source = "perceived"\n')
    with pytest.raises(Captured):
        compare(study=study, options={"use_wav": False}, progress=False)
    assert calls[-1][1]["options"] == {"label_source": "perceived", "use_wav": False}
    with pytest.raises(Captured):  # another dataset than the study's: its options do not apply
        compare(study=study, dataset="ravdess", progress=False)
    assert calls[-1][1]["options"] == {}

    study = tmp_path / "abl.toml"
    study.write_text('[study]\nkind = "ablation"\nmodel = "deiii"\ndataset = "cremad"\nroot = "/c"\n'
                     '[study.options]\nlabel_source = "perceived"\n[variants.full]\n')
    with pytest.raises(Captured):
        ablate("deiii", study, options={"label_source": "intended"}, progress=False)
    assert calls[-1][1]["options"] == {"label_source": "intended"}

    with pytest.raises(Captured):
        experiment.run("deiii", "cremad", root="/c", options={"label_source": "perceived"}, track=False, progress=False)
    assert calls[-1][1]["options"] == {"label_source": "perceived"}


SWEEP_STUDY = """
[study]
kind = "sweep"
name = "opts"
model = "deiii"
dataset = "cremad"
root = "{root}"
inner_folds = 2

[study.options]
label_source = "perceived"

[space.lr]
type = "float"
low = 1e-5
high = 1e-2
target = "train.lr"
"""


def test_sweep_threads_options_to_its_workers(tmp_path, monkeypatch):
    import bench.data.open as opener
    from bench.studies.loader import load_study
    from bench.sweep.driver import SweepSettings, sweep
    from bench.sweep.objective import TrainingObjective

    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP_STUDY.format(root=tmp_path / "c"))
    with pytest.raises(ConfigError, match=r"--option: unknown option 'use_wavs' for dataset 'cremad'; did you mean use_wav"):
        sweep(path, trials=1, options={"use_wavs": False})

    calls: list = []
    monkeypatch.setattr(opener, "open_dataset", capture(calls))
    settings = SweepSettings(str(path), "opts", None, 1, extra={"options": {"use_wav": False}})
    with pytest.raises(Captured):
        TrainingObjective(load_study(path), settings)
    assert calls[0][1]["options"] == {"label_source": "perceived", "use_wav": False}


# -- cases 1-3 from the command line: clean errors, exit code 2 ---------------------------------------
def test_bad_option_and_bad_csv_exit_2_without_traceback(tmp_path, monkeypatch, capsys):
    root = cremad_tree(tmp_path / "c")
    code, _, err = bench_main(["manifest", "--dataset", "cremad", "--root", str(root), "--option", "label_sorce=perceived"],
                              monkeypatch, capsys)
    assert code == 2 and "Traceback" not in err
    assert "error: cremad: unknown option 'label_sorce' for dataset 'cremad'; did you mean label_source? Valid options: " \
           "label_source (default 'intended')" in " ".join(err.split())

    code, _, err = bench_main(["manifest", "--dataset", "cremad", "--root", str(root), "--option", "perceived"],
                              monkeypatch, capsys)
    assert code == 2 and "error: --option: override 'perceived' is not of the form key=value" in " ".join(err.split())

    bad = tmp_path / "bad.csv"
    bad.write_text('clip_id,speaker,video_path,label\na,s1,a.mp4,sad\nb,s1,"b.mp4,happy\n')
    code, _, err = bench_main(["manifest", "--dataset", "manifest", "--root", str(bad)], monkeypatch, capsys)
    assert code == 2 and "Traceback" not in err
    assert f"{bad}: line 3: a double quote opened here is never closed" in "".join(err.split("\n"))


# -- case 2: what `bench manifest` writes reads back ----------------------------------------------
def test_bench_manifest_output_reads_back_with_dataset_manifest(tmp_path):
    root = cremad_tree(tmp_path / "corpus")
    out = tmp_path / "somewhere" / "else" / "cremad.csv"
    result = CliRunner().invoke(app, ["manifest", "--dataset", "cremad", "--root", str(root), "--option",
                                      "label_source=perceived", "--out", str(out)])
    assert result.exit_code == 0, result.output
    back = build_manifest("manifest", out)
    assert len(back) == 7 and back.labels == ("neutral", "happy", "sad", "angry", "fearful", "disgust")
    for column in ("video_path", "audio_path"):
        assert all(back.media_path(v).is_file() for v in back.frame[column])
    assert back.frame.set_index("clip_id").loc["1001_TIE_SAD_LO", "label"] == "neutral"  # the perceived label


# -- case 4: an inferred vocabulary is shown by the CLI ---------------------------------------------
def test_cli_shows_the_inferred_vocabulary(tmp_path):
    (tmp_path / "a.mp4").touch()
    (tmp_path / "b.mp4").touch()
    csv = tmp_path / "list.csv"
    csv.write_text("clip_id,speaker,video_path,label\na,s1,a.mp4,sad\nb,s2,b.mp4,sadd\n")
    result = CliRunner().invoke(app, ["manifest", "--dataset", "manifest", "--root", str(csv), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "warning: NO LABEL VOCABULARY DECLARED" in text and "2 classes: sad (1 clips), sadd (1 clips)" in text
