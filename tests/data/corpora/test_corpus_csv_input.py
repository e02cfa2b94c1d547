"""Broken CSV input to every adapter that reads one: a clear error naming file, line and reason.

The readers: the generic manifest CSV, CREMA-D's processedResults/summaryTable.csv and
VideoDemographics.csv, MSP-IMPROV's label file and the synthetic corpus's synthetic_meta.csv.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_replicas import cremad_tree, mspimprov_tree, ravdess_tree, touch

from bench.data.corpora import build_manifest
from bench.data.corpora.base import read_csv_table
from bench.errors import BenchError, ConfigError

GOOD_MANIFEST = "clip_id,speaker,video_path,label\na1,s1,media/a1.mp4,sad\nb1,s2,media/b1.mp4,happy\n"


def manifest_case(tmp_path: Path):
    for name in ("a1", "b1"):
        touch(tmp_path / "media" / f"{name}.mp4")
    path = tmp_path / "my.csv"
    return path, lambda: build_manifest("manifest", path, labels="sad,happy")


def summary_case(tmp_path: Path):
    root = cremad_tree(tmp_path / "c")
    return root / "processedResults" / "summaryTable.csv", lambda: build_manifest("cremad", root, label_source="perceived")


def demographics_case(tmp_path: Path):
    root = cremad_tree(tmp_path / "c")
    return root / "VideoDemographics.csv", lambda: build_manifest("cremad", root)


def mspimprov_case(tmp_path: Path):
    root, _ = mspimprov_tree(tmp_path / "msp")
    path = tmp_path / "labels.csv"
    return path, lambda: build_manifest("mspimprov", root, labels=str(path))


def synthetic_case(tmp_path: Path):
    root = ravdess_tree(tmp_path / "syn", actors=(1,), modalities=("01",))
    return root / "synthetic_meta.csv", lambda: build_manifest("synthetic", root)


READERS = {"manifest": manifest_case, "cremad-summary": summary_case, "cremad-demographics": demographics_case,
           "mspimprov-labels": mspimprov_case, "synthetic-meta": synthetic_case}
# (file bytes, the message expected): every defect the readers must name.
DEFECTS = {
    "empty": (b"", r"is empty \(expected a header line"),
    "blank": (b"\n  \n", r"is empty"),
    "nul-bytes": (b"clip_id,speaker\nab\x00\x00cd,1\n", r"line 2: NUL byte; .* must be a text CSV file"),
    "not-utf8": (b"clip_id,speaker\na1,s1\nb\xe9\xff,s2\n", r"line 3: byte 0xe9 is not UTF-8"),
    "unterminated-quote": (b'clip_id,speaker\na1,s1\n"b1,s2\nc1,s3\n', r"line 3: a double quote opened here is never closed"),
    "text-after-quote": (b'clip_id,speaker\n"a1"x,s1\n', r"line 2: text after a closing double quote"),
    "extra-fields": (b"clip_id,speaker\na1,s1\nb1,s2,oops,more\n", r"line 3: 4 fields, but the header has 2"),
}


@pytest.mark.parametrize("defect", DEFECTS)
@pytest.mark.parametrize("reader", READERS)
def test_broken_csv_names_file_line_and_reason(tmp_path, reader, defect):
    path, build = READERS[reader](tmp_path)
    content, expected = DEFECTS[defect]
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=expected) as info:
        build()
    assert str(path) in str(info.value)
    assert isinstance(info.value, BenchError)  # the CLI prints it as "error: ..." and exits 2


@pytest.mark.parametrize("reader", ["manifest", "mspimprov-labels"])
def test_missing_folder_and_unreadable_files(tmp_path, reader, monkeypatch):
    path, build = READERS[reader](tmp_path)
    if reader == "manifest":  # the manifest adapter's root *is* the CSV: missing is caught on the root
        with pytest.raises(ConfigError, match="does not exist"):
            build()
    else:
        with pytest.raises(ConfigError, match=f"{path}: MSP-IMPROV label file .* not found"):
            build()
    path.mkdir()
    with pytest.raises(ConfigError, match="is a folder|is not a file"):
        build()
    path.rmdir()
    path.write_text(GOOD_MANIFEST)
    real = Path.read_bytes

    def denied(self):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)  # root may read anything: simulate a 0o000 file
    with pytest.raises(ConfigError, match=r"cannot be read \(permission denied\)"):
        build()


def test_reader_tolerates_what_pandas_did(tmp_path):
    """A BOM, CRLF, blank lines, quoted commas, short rows and trailing empty fields still read."""
    path = tmp_path / "t.csv"
    path.write_bytes(b'\xef\xbb\xbf a , b ,c\r\n1,"x, y",3\r\n\r\n4,5\r\n6,7,8,,\r\n')
    table = read_csv_table(path)
    assert list(table.frame.columns) == ["a", "b", "c"]
    assert table.frame.values.tolist() == [["1", "x, y", "3"], ["4", "5", ""], ["6", "7", "8"]]
    assert table.lines == [2, 4, 5]


def test_header_only_and_repeated_columns(tmp_path):
    path, build = manifest_case(tmp_path)
    path.write_text("clip_id,speaker,video_path,label\n")
    with pytest.raises(ConfigError, match=r"my.csv: no rows \(only the header line\)"):
        build()
    path.write_text("clip_id,speaker,video_path,label,label\na1,s1,media/a1.mp4,sad,sad\n")
    with pytest.raises(ConfigError, match=r"line 1: columns \['label'\] appear more than once"):
        build()


def test_row_errors_name_lines(tmp_path):
    path, build = manifest_case(tmp_path)
    path.write_text("clip_id,speaker,video_path,label,gender\na1,s1,media/a1.mp4,sad,F\n\n,s2,media/b1.mp4,happy,M\n")
    with pytest.raises(ConfigError, match="my.csv: line 4: empty clip_id or speaker"):
        build()
    path.write_text("clip_id,speaker,video_path,label,gender\na1,s1,media/a1.mp4,sad,F\nb1,s2,media/b1.mp4,happy,X\n")
    with pytest.raises(ConfigError, match=r"my.csv: line 3: gender values \['x'\]"):
        build()
    path.write_text("clip_id,speaker,video_path,label\na1,s1,media/a1.mp4,sad\na1,s2,media/b1.mp4,happy\n")
    with pytest.raises(ConfigError, match=r"my.csv: lines 2, 3: clip ids repeat \(a1\)"):
        build()


def test_required_columns_are_named(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("FileName,Other\na,b\n")
    with pytest.raises(ConfigError) as exc:
        read_csv_table(path, "summary table", required=("FileName", "MultiModalVote"))
    assert str(path) in str(exc.value) and "['MultiModalVote']" in str(exc.value) and "'Other'" in str(exc.value)
    assert list(read_csv_table(path, required=("FileName",)).frame["FileName"]) == ["a"]
