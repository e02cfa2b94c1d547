"""Protocols: checksummed (corpus, labels, classes, clips, scheme); the literature ledger; the
``bench protocols`` command; reported rows beside measured ones only under the same protocol."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.report import tables as T
from bench.errors import ConfigError
from bench.protocols import (PROTOCOLS, get_protocol, list_protocols, load_literature, protocol_for, protocol_ref,
                             reported_rows)
from bench.splits import get_scheme

SHIPPED = ["cremad/vavl", "cremad/kfold", "cremad/hicmae5", "ravdess/saf", "ravdess/kfold6", "ravdess/hicmae6",
           "mspimprov/loso", "mspimprov/hicmae6"]


def test_registry_and_checksums():
    assert [p.id for p in list_protocols()] == SHIPPED
    checksums = {p.checksum for p in list_protocols()}
    assert len(checksums) == len(SHIPPED) and all(len(c) == 64 for c in checksums)
    p = get_protocol("cremad/hicmae5")
    assert p.checksum == get_protocol("cremad/hicmae5").checksum  # stable
    assert p.scheme_checksum == get_scheme("cremad", "hicmae5").checksum
    assert json.loads(p.canonical_json())["scheme_checksum"] == p.scheme_checksum
    # the split file's checksum is part of the protocol's: another file, another protocol checksum
    assert p.canonical_json("0" * 64) != p.canonical_json() and p.labels == "acted"
    # provenance in words is not
    assert dataclasses.replace(p, description="reworded").checksum == p.checksum
    assert dataclasses.replace(p, labels="perceived consensus").checksum != p.checksum
    with pytest.raises(ConfigError, match="did you mean cremad/vavl"):
        get_protocol("cremad/vavI")


def test_protocol_for_a_run():
    assert protocol_for("cremad", "vavl", {"label_source": "perceived"}) is PROTOCOLS["cremad/vavl"]
    assert protocol_for("ravdess", None, {}) is PROTOCOLS["ravdess/saf"]  # default scheme, default options
    assert protocol_for("mspimprov", "hicmae6", {"labels": "/x.csv"}).id == "mspimprov/hicmae6"  # a path is not protocol
    other = protocol_for("cremad", "vavl", {})  # acted labels on the VAVL folds: not the published protocol
    assert other.id == "cremad/vavl?label_source=intended" and not other.shipped
    assert other.checksum != PROTOCOLS["cremad/vavl"].checksum and other.labels == "acted"
    ref = protocol_ref("cremad", get_scheme("cremad", "hicmae5"), {})
    assert ref == {"protocol": "cremad/hicmae5", "protocol_checksum": PROTOCOLS["cremad/hicmae5"].checksum}


def test_protocol_for_a_user_scheme_names_its_checksum(tmp_path):
    path = tmp_path / "folds.toml"
    path.write_text('[[folds]]\nname = "f1"\ntrain = ["1", "2", "3"]\nval = ["4"]\ntest = ["5"]\n')
    scheme = get_scheme("ravdess", str(path))
    p = protocol_for("ravdess", scheme, {})
    assert p.id == f"ravdess/folds@{scheme.checksum[:12]}" and not p.shipped and p.scheme_checksum == scheme.checksum
    assert p.to_dict()["folds"] is None and p.to_dict()["checksum"] == p.checksum


def test_the_literature_ledger():
    rows = load_literature()
    assert {r.model for r in rows} >= {"VAVL", "AuxFormer", "Self-attention fusion (ia)", "AVF-MAE++", "DE-III"}
    for r in rows:
        assert r.source and (r.protocol == "unknown" or r.protocol in PROTOCOLS), r.model
    de3 = next(r for r in rows if r.model == "DE-III")
    assert not de3.metrics and "not available" in de3.note
    hicmae = next(r for r in rows if r.model.startswith("HiCMAE"))
    assert dict(hicmae.metrics) == {"accuracy": 0.8491, "uar": 0.8494} and hicmae.protocol == "cremad/hicmae5"
    assert [r.model for r in reported_rows("ravdess")] == ["Self-attention fusion (ia)"]


def test_ledger_mistakes_name_the_row(tmp_path):
    path = tmp_path / "lit.toml"
    base = '[metrics]\naccuracy = "WAR"\n[[rows]]\nmodel = "X"\ncitation = "Y"\ndataset = "cremad"\nmodality = "av"\n'
    path.write_text(base + 'protocol = "unknown"\nsource = "s"\naccuracy = 81.5\n')
    with pytest.raises(ConfigError, match=r"lit.toml \[\[rows\]\] #1 \(X\): accuracy=81.5 is outside"):
        load_literature(path)
    path.write_text(base + 'protocol = "cremad/other"\nsource = "s"\n')
    with pytest.raises(ConfigError, match="neither a shipped protocol nor 'unknown'"):
        load_literature(path)
    path.write_text(base + 'protocol = "unknown"\n')
    with pytest.raises(ConfigError, match=r"lacks \['source'\]"):
        load_literature(path)


def test_protocols_command():
    from bench.cli import _load_commands, app

    _load_commands()
    runner = CliRunner()
    result = runner.invoke(app, ["protocols", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [d["id"] for d in data] == SHIPPED
    hicmae = data[SHIPPED.index("cremad/hicmae5")]
    assert hicmae["folds"] == 5 and hicmae["checksum"] == PROTOCOLS["cremad/hicmae5"].checksum
    assert "sunlicai/HiCMAE" in hicmae["source"] and hicmae["labels"] == "acted" and len(hicmae["classes"]) == 6
    result = runner.invoke(app, ["protocols"], env={"COLUMNS": "250"})
    assert result.exit_code == 0 and "mspimprov/hicmae6" in result.output and PROTOCOLS["ravdess/saf"].checksum[:16] in result.output
    result = runner.invoke(app, ["protocols", "--literature", "--json"])
    assert result.exit_code == 0 and any(r["protocol"] == "ravdess/saf" for r in json.loads(result.output))


@pytest.fixture
def tidy():
    rows = [{"model": m, "dataset": "ravdess", "fold": f, "seed": 0, "metric": "accuracy", "value": v + 0.01 * f}
            for m, v in (("deiii", 0.70), ("saf", 0.60)) for f in range(5)]
    return pd.DataFrame(rows)


def test_reported_rows_join_the_measured_block_only_under_the_same_protocol(tidy):
    same = T.ReportedRow("SAF (ia)", {"accuracy": 0.8158}, "Chumachenko et al. 2022", protocol="ravdess/saf")
    other = T.ReportedRow("VAVL", {"accuracy": 0.826}, "Goncalves et al. 2023", protocol="cremad/vavl")
    unknown = T.ReportedRow("Old", {"accuracy": 0.5}, "Someone 2020")
    checksum = PROTOCOLS["ravdess/saf"].checksum
    t = T.comparison_table(tidy, reported=[other, same, unknown], protocol="ravdess/saf", protocol_checksum=checksum)
    assert t.row_names == ["deiii", "saf", "SAF (ia)"]
    assert t.rows[2][1].text == "reported" and not t.rows[2][2].bold  # 81.6 beats both, yet never bold
    assert [r[0].text for r in t.reported] == ["VAVL", "Old"]
    assert t.reported[0][1].text == "reported (protocol cremad/vavl)" and t.reported[1][1].text == "reported"
    assert f"protocol ravdess/saf (sha256 {checksum[:12]})" in t.caption and "same protocol" in t.caption
    assert "Reported rows: numbers from the literature, not compared" in t.caption
    md = T.to_markdown(t)
    assert md.index("SAF (ia)") < md.index("Reported in the literature") < md.index("VAVL")
    assert set(t.data.loc[t.data["block"] == "reported", "protocol"]) == {"ravdess/saf", "cremad/vavl", ""}
    # without a run protocol nothing moves, whatever the rows say
    plain = T.comparison_table(tidy, reported=[same])
    assert plain.row_names == ["deiii", "saf"] and len(plain.reported) == 1
    assert T.comparison_table(tidy, reported=[unknown], protocol="").row_names == ["deiii", "saf"]
