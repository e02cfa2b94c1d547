"""Study files are data: every shipped one loads, and mistakes fail early, naming file and key."""

from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.studies.loader import load_study

# literature.toml beside the studies is the ledger of reported results (bench.protocols), not a study.
STUDIES = sorted(p for p in Path(__file__).resolve().parents[2].joinpath("studies").glob("*.toml") if p.name != "literature.toml")


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_shipped_studies_load(path):
    study = load_study(path)
    assert study.kind in ("comparison", "ablation", "sweep")


def test_there_are_studies_of_each_kind():
    kinds = {load_study(p).kind for p in STUDIES}
    assert kinds == {"comparison", "ablation", "sweep"}


def _write(tmp_path, text):
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def test_unknown_model_override_names_file_and_key(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "ablation"\nmodel = "deiii"\n[variants.full]\n[variants.x]\nuse_flw = false\n')
    with pytest.raises(ConfigError, match=r"study.toml \[variants.x\].*use_flw.*did you mean use_flow"):
        load_study(path)


def test_unknown_model_name_is_answered_with_suggestions(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "comparison"\nmodels = ["deiiii"]\n')
    with pytest.raises(Exception, match="Did you mean: deiii"):
        load_study(path)


def test_bad_train_key_and_bad_space(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "sweep"\nmodel = "deiii"\n[space.lr]\ntype = "float"\nlow = 1\nhigh = 0\ntarget = "train.lr"\n')
    with pytest.raises(ConfigError, match=r"\[space.lr\]: low \(1\) must be below high"):
        load_study(path)
    path = _write(tmp_path, '[study]\nkind = "sweep"\nmodel = "deiii"\n[space.lr]\ntype = "float"\nlow = 0\nhigh = 1\ntarget = "train.lrr"\n')
    with pytest.raises(ConfigError, match="train.lrr|lrr"):
        load_study(path)


def test_reported_rows_need_a_citation(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "comparison"\nmodels = ["saf"]\n[[reported]]\nmodel = "x"\naccuracy = 0.8\n')
    with pytest.raises(ConfigError, match="citation"):
        load_study(path)


def test_reference_must_be_a_variant(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "ablation"\nmodel = "deiii"\nreference = "full"\n[variants.other]\nife = "none"\n')
    with pytest.raises(ConfigError, match="reference variant 'full'"):
        load_study(path)


def test_nothing_in_a_study_is_executed(tmp_path):
    # A value that looks like code stays a string and is rejected by the typed config.
    path = _write(tmp_path, '[study]\nkind = "ablation"\nmodel = "deiii"\n[variants.full]\n[variants.x]\nnum_layers = "__import__(\'os\').system(\'false\')"\n')
    with pytest.raises(ConfigError, match="num_layers must be an integer"):
        load_study(path)


# -- shipped studies travel with the package ---------------------------------------------------
def test_default_studies_are_found_from_any_working_directory(tmp_path, monkeypatch):
    from bench.report.ablation import default_study as default_ablation
    from bench.cli.sweep import default_study as default_sweep

    monkeypatch.chdir(tmp_path)  # no studies/ folder here
    sweep_path, ablation_path = default_sweep("deiii"), default_ablation("deiii")
    assert sweep_path.is_absolute() and load_study(sweep_path).kind == "sweep"
    assert ablation_path.is_absolute() and load_study(ablation_path).kind == "ablation"


def test_shipped_studies_are_package_data_and_the_root_folder_shows_them():
    import tomllib

    from bench.studies.loader import SHIPPED_STUDIES

    root = Path(__file__).resolve().parents[2]
    package_data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["bench"]
    assert SHIPPED_STUDIES.parent == root / "bench" and "studies/*.toml" in package_data
    assert sorted(p.name for p in SHIPPED_STUDIES.glob("*.toml") if p.name != "literature.toml") == [p.name for p in STUDIES]


def test_unknown_default_study_lists_the_shipped_ones(tmp_path, monkeypatch):
    from bench.studies.loader import shipped_study

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"no shipped sweep study for model 'nope' .*'deiii'.*pass --study FILE"):
        shipped_study("sweep", "nope")
    with pytest.raises(ConfigError, match=r"--model: '\.\./\.\./etc/x' cannot be used as a name"):
        shipped_study("sweep", "../../etc/x")


# -- names from study files cannot write outside their folders ---------------------------------
HOSTILE = ["../../outside", "/tmp/abs", "sub/dir", "a\\b", ".."]
ABLATION = '[study]\nkind = "ablation"\nmodel = "deiii"\n{head}[variants.full]\n{extra}'


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize(
    "text, field",
    [
        (lambda b: ABLATION.format(head=f"name = {b!r}\n", extra=""), r"\[study\] name"),
        (lambda b: ABLATION.format(head=f"dataset = {b!r}\n", extra=""), r"\[study\] dataset"),
        (lambda b: ABLATION.format(head="", extra=f"[variants.{b!r}]\nuse_flow = false\n"), r"\[variants\] name"),
        (lambda b: ABLATION.format(head="", extra=f"[pairs]\n{b!r} = [\"sad\", \"fearful\"]\n"), r"\[pairs\] name"),
    ],
    ids=["study-name", "dataset", "variant", "pair"],
)
def test_hostile_names_are_refused_naming_file_and_field(tmp_path, bad, text, field):
    path = _write(tmp_path, text(bad))
    with pytest.raises(ConfigError, match=rf"study\.toml {field}: .* cannot be used as a name"):
        load_study(path)


def test_safe_name_keeps_ordinary_names():
    from bench.paths import safe_name

    assert safe_name("deiii-ablation_v2.1", "x") == "deiii-ablation_v2.1"
    with pytest.raises(ConfigError, match="where: '' cannot"):
        safe_name("", "where")


def test_a_comparison_train_table_is_every_models_shared_budget(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "comparison"\nmodels = ["deiii", "saf"]\n'
                            '[train]\nepochs = 40\npatience = 10\n[overrides.saf]\ntrain.patience = 5\n')
    study = load_study(path)
    assert study.model_overrides("deiii") == {"train.epochs": 40, "train.patience": 10}
    assert study.model_overrides("saf") == {"train.epochs": 40, "train.patience": 5}  # its own table wins


def test_a_comparison_model_table_is_refused(tmp_path):
    path = _write(tmp_path, '[study]\nkind = "comparison"\nmodels = ["deiii", "saf"]\n[model]\nd_model = 8\n')
    with pytest.raises(ConfigError, match=r"a comparison has no \[model\] table"):
        load_study(path)
