"""Report bundles: tables and figures written into one folder, with an index that says how to
regenerate them.

``bench compare``, ``bench ablate`` and the robustness study each end by writing a folder such
as ``reports/compare-ravdess/``: every table in LaTeX (to paste into a paper, plus a standalone
version that compiles on its own), Markdown (to read on GitHub) and CSV (the unrounded numbers),
every figure as PNG and PDF, and an ``index.md`` listing what is there and the exact command that
regenerates it, so any number in a paper can be traced back to a command.

    bundle = ReportBundle(out_dir, title="RAVDESS comparison", command="bench compare ...")
    bundle.table(comparison_table(tidy), "compare", description="Models vs baselines")
    bundle.figure(plot_fold_scores(tidy, "uar", out_dir, "folds-uar"), "UAR per fold")
    bundle.write_index()
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from bench.errors import BenchError
from bench.io import write_bytes, write_text
from bench.report.tables import Table, comparison_table, to_csv, to_latex, to_markdown

TABLE_FORMATS: tuple[str, ...] = ("tex", "standalone", "md", "csv")
_SUFFIX = {"tex": ".tex", "standalone": ".standalone.tex", "md": ".md", "csv": ".csv", "pdf": ".pdf"}
_NAMES = {"tex": "LaTeX", "standalone": "standalone LaTeX", "md": "Markdown", "csv": "CSV", "pdf": "PDF", "png": "PNG"}


def write_table(
    table: Table | pd.DataFrame,
    out_dir: str | Path,
    stem: str,
    *,
    formats: Sequence[str] = TABLE_FORMATS,
    compile_pdf: bool = False,
    **build: Any,
) -> dict[str, Path]:
    """Write ``table`` as ``<stem>.tex``, ``<stem>.standalone.tex``, ``<stem>.md``, ``<stem>.csv``.

    A tidy DataFrame is first turned into a :func:`~bench.report.tables.comparison_table` with
    ``build`` as its keyword arguments. ``compile_pdf`` also runs pdflatex on the standalone
    file (``<stem>.pdf``; needs ``pdflatex``). Returns {format: path}.
    """
    if isinstance(table, pd.DataFrame):
        table = comparison_table(table, **build)
    elif build:
        raise BenchError(f"write_table: build arguments {sorted(build)} only apply to a results DataFrame")
    unknown = [f for f in formats if f not in _SUFFIX or f == "pdf"]
    if unknown:
        raise BenchError(f"write_table: unknown format(s) {unknown}; choose from {list(TABLE_FORMATS)}")
    out_dir = Path(out_dir)
    render = {
        "tex": lambda: to_latex(table),
        "standalone": lambda: to_latex(table, standalone=True),
        "md": lambda: to_markdown(table),
        "csv": lambda: to_csv(table),
    }
    paths = {fmt: write_text(out_dir / f"{stem}{_SUFFIX[fmt]}", render[fmt]()) for fmt in formats}
    if compile_pdf:
        source = paths.get("standalone") or write_text(out_dir / f"{stem}{_SUFFIX['standalone']}", render["standalone"]())
        paths["standalone"] = source
        paths["pdf"] = compile_latex(source, out_dir / f"{stem}.pdf")
    return paths


def pdflatex_available() -> bool:
    return shutil.which("pdflatex") is not None


def compile_latex(tex_path: str | Path, pdf_path: str | Path | None = None, *, timeout: float = 120.0) -> Path:
    """Compile a standalone ``.tex`` with pdflatex in a scratch folder; move the PDF into place.

    The auxiliary files (.aux, .log) stay in the scratch folder, so a report folder holds only
    what the index lists. A failure raises :class:`BenchError` with the end of pdflatex's log.
    """
    tex_path = Path(tex_path).resolve()
    pdf_path = Path(pdf_path) if pdf_path is not None else tex_path.with_name(tex_path.name.removesuffix(".standalone.tex").removesuffix(".tex") + ".pdf")
    exe = shutil.which("pdflatex")
    if exe is None:
        raise BenchError(f"{tex_path}: cannot compile, pdflatex is not on PATH (apt-get install texlive-latex-base texlive-latex-recommended)")
    with tempfile.TemporaryDirectory(prefix="bench-latex-") as scratch:
        cmd = [exe, "-interaction=nonstopmode", "-halt-on-error", "-output-directory", scratch, str(tex_path)]
        try:
            proc = subprocess.run(cmd, cwd=scratch, capture_output=True, text=True, timeout=timeout, env={**os.environ, "TEXMFOUTPUT": scratch})
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"{tex_path}: pdflatex did not finish within {timeout:g} s") from exc
        produced = Path(scratch) / (tex_path.stem + ".pdf")
        if proc.returncode != 0 or not produced.exists():
            tail = "\n".join((proc.stdout or "").splitlines()[-25:])
            raise BenchError(f"{tex_path}: pdflatex failed (exit {proc.returncode}):\n{tail}")
        return write_bytes(pdf_path, produced.read_bytes())


# ---------------------------------------------------------------------------------------------
# the bundle and its index


@dataclass
class Artifact:
    """One entry of the index: a table or a figure and the files it was written to."""

    kind: str  # "table" | "figure"
    description: str  # one line shown in the index
    paths: dict[str, Path]  # format -> file
    preview: str = ""  # Markdown shown inline (a table's Markdown), or "" for figures


@dataclass
class ReportBundle:
    """Collects what a command writes into ``out_dir`` and writes the ``index.md`` that lists it."""

    out_dir: Path  # the report folder, e.g. reports/compare-ravdess
    title: str  # heading of index.md
    command: str  # the command line that regenerates the whole folder
    provenance: Mapping[str, str] = field(default_factory=dict)  # e.g. git commit, config hash, MLflow run id
    artifacts: list[Artifact] = field(default_factory=list)  # in the order they were added
    # (level, text) shown at the top of index.md, above everything else: what a reader must
    # know before trusting a table (e.g. an undertrained row); level "warning" or "note".
    notes: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)

    def table(self, table: Table | pd.DataFrame, stem: str, *, description: str | None = None, compile_pdf: bool = False, **build: Any) -> dict[str, Path]:
        """Write a table (all formats) and list it; returns {format: path}."""
        if isinstance(table, pd.DataFrame):
            table = comparison_table(table, **build)
            build = {}
        paths = write_table(table, self.out_dir, stem, compile_pdf=compile_pdf, **build)
        self.artifacts.append(Artifact("table", description or table.caption.split(". ")[0], paths, to_markdown(table)))
        return paths

    def figure(self, paths: Mapping[str, Path], description: str) -> dict[str, Path]:
        """List a figure already saved by :mod:`bench.report.plots` (its {format: path})."""
        missing = [str(p) for p in paths.values() if not Path(p).exists()]
        if missing:
            raise BenchError(f"report figure '{description}': file(s) {missing} do not exist")
        self.artifacts.append(Artifact("figure", description, dict(paths)))
        return dict(paths)

    def note(self, text: str, *, level: str = "warning") -> None:
        """Put ``text`` at the top of ``index.md`` (``level``: "warning" or "note"), where a reader
        of the report cannot miss it."""
        if level not in ("warning", "note"):
            raise BenchError(f"report note: level must be 'warning' or 'note', got {level!r}")
        self.notes.append((level, text))

    def write_index(self, *, generated: str | None = None) -> Path:
        """Write ``index.md``; ``generated`` overrides the UTC timestamp (for reproducible tests)."""
        return write_index(self.out_dir, self.artifacts, title=self.title, command=self.command, provenance=self.provenance,
                           generated=generated, notes=self.notes)


def _link(path: Path, out_dir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(out_dir.resolve()).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix()


def write_index(
    out_dir: str | Path,
    artifacts: Sequence[Artifact],
    *,
    title: str,
    command: str,
    provenance: Mapping[str, str] | None = None,
    generated: str | None = None,
    notes: Sequence[tuple[str, str]] = (),
) -> Path:
    """A README-style ``index.md``: ``notes`` ((level, text): warnings first, right under the
    title), how to regenerate, then each table (inline) and figure."""
    out_dir = Path(out_dir)
    when = generated or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# {title}", ""]
    if notes:
        ordered = [n for n in notes if n[0] == "warning"] + [n for n in notes if n[0] != "warning"]
        lines += ["## Read this first", ""] + [f"- **{level}:** {text}" for level, text in ordered] + [""]
    lines += [f"Generated by DE-III Bench on {when}."]
    for key, value in (provenance or {}).items():
        lines.append(f"- {key}: `{value}`")
    lines += ["", "## Regenerate", "", "```bash", command, "```", ""]
    tables = [a for a in artifacts if a.kind == "table"]
    figures = [a for a in artifacts if a.kind == "figure"]
    if tables:
        lines += ["## Tables", ""]
        for a in tables:
            files = " · ".join(f"[{_NAMES.get(f, f)}]({_link(p, out_dir)})" for f, p in a.paths.items())
            lines += [f"### {a.description}", "", files, "", a.preview.rstrip(), ""]
    if figures:
        lines += ["## Figures", ""]
        for a in figures:
            files = " · ".join(f"[{_NAMES.get(f, f)}]({_link(p, out_dir)})" for f, p in a.paths.items())
            lines += [f"### {a.description}", "", files, ""]
            if "png" in a.paths:
                lines += [f"![{a.description}]({_link(a.paths['png'], out_dir)})", ""]
    if not artifacts:
        lines += ["Nothing was generated.", ""]
    return write_text(out_dir / "index.md", "\n".join(lines))
