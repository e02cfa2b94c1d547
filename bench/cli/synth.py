"""``bench synth``: generate the built-in synthetic corpus (real media files, RAVDESS or CREMA-D layout)."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli import app
from bench.cli.common import console


@app.command("synth")
def synth_command(
    out: Path = typer.Option(None, "--out", help="Folder to write (default: <bench home>/corpora/synthetic-<layout>-<hash>, reused if present)."),
    layout: str = typer.Option("ravdess", "--layout", help="File layout and naming to imitate: ravdess, cremad, or affwild2 (long videos with per-frame valence/arousal)."),
    actors: int = typer.Option(10, "--actors", help="Number of actors (speakers), half female, half male."),
    clips_per_class: int = typer.Option(4, "--clips-per-class", help="Takes per actor and class."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed gives byte-identical files."),
    videos: int = typer.Option(0, "--videos", help="affwild2 layout: number of videos (0: 7; the last has two subjects, a quarter (at least 2) are Validation_Set)."),
    workers: int = typer.Option(0, "--workers", "-j", help="Worker processes (0: one per idle core, at most 4)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing corpus at --out."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Generate the synthetic audio-visual corpus: drawn faces and synthetic voices whose six
    classes carry their cues in different channels by design (one pair only in fine facial
    motion, one pair only in the voice).

    It proves the machinery and the ablations (a missing channel, or flow that misses fine
    motion, shows up in the numbers), NOT emotion recognition: results on it say nothing about
    how a model does on real people.
    """
    from bench.data.synth import META_FILE, SynthConfig, ensure_synthetic_corpus, generate_corpus, read_meta

    if layout not in ("ravdess", "cremad", "affwild2"):
        from bench.errors import ConfigError

        raise ConfigError(f"--layout must be ravdess, cremad or affwild2, got {layout!r}")
    if videos and layout != "affwild2":
        from bench.errors import ConfigError

        raise ConfigError(f"--videos applies to --layout affwild2 only (the {layout} layout is sized by --actors and --clips-per-class)")
    if layout == "affwild2":  # a frame-level corpus: its own generator (--actors/--clips-per-class do not apply)
        _synth_affwild2(out, seed, workers, overwrite, quiet, videos)
        return
    config = SynthConfig(layout=layout, actors=actors, clips_per_class=clips_per_class, seed=seed)  # type: ignore[arg-type]
    if out is None and not overwrite:
        root = ensure_synthetic_corpus(config, progress=not quiet, workers=workers)
    elif out is None:
        from bench.data.synth.generate import corpus_key
        from bench.paths import corpora_dir

        root = generate_corpus(
            corpora_dir() / f"synthetic-{layout}-{corpus_key(config)}", config, progress=not quiet, workers=workers, overwrite=True
        )
    elif (out / META_FILE).is_file() and not overwrite and _same_key(out, config):
        root = out.resolve()  # already generated with these settings: reuse
    else:
        root = generate_corpus(out, config, progress=not quiet, workers=workers, overwrite=overwrite)
    rows = read_meta(root)
    speakers = len({row["actor"] for row in rows})
    classes = sorted({row["class"] for row in rows})
    console.print(f"synthetic corpus at [bold]{root}[/]", highlight=False)
    console.print(
        f"{len(rows)} clips, {speakers} actors, {len(classes)} classes ({', '.join(classes)}), {layout} layout, seed {seed}",
        highlight=False,
    )


def _same_key(root: Path, config) -> bool:
    """Whether ``root`` holds a corpus generated from ``config`` by this generator version."""
    import json

    from bench.data.synth import CONFIG_FILE, corpus_key

    try:
        return json.loads((root / CONFIG_FILE).read_text())["key"] == corpus_key(config)
    except (OSError, ValueError, KeyError):
        return False


def _synth_affwild2(out: Path | None, seed: int, workers: int, overwrite: bool, quiet: bool, videos: int = 0) -> None:
    """``--layout affwild2``: see :mod:`bench.data.synth.affwild2`."""
    import json

    from bench.data.synth.affwild2 import CONFIG_FILE, AffWildSynthConfig, corpus_key, ensure_affwild2_corpus, generate_affwild2

    config = AffWildSynthConfig(seed=seed) if not videos else AffWildSynthConfig(
        seed=seed, videos=videos, validation_videos=max(2, videos // 4))
    if out is None and not overwrite:
        root = ensure_affwild2_corpus(config, progress=not quiet, workers=workers)
    elif out is None:
        from bench.paths import corpora_dir

        root = generate_affwild2(corpora_dir() / f"synthetic-affwild2-{corpus_key(config)}", config, workers=workers, overwrite=True)
    else:
        try:
            same = json.loads((out / CONFIG_FILE).read_text())["key"] == corpus_key(config)
        except (OSError, ValueError, KeyError):
            same = False
        root = out.resolve() if same and not overwrite else generate_affwild2(out, config, workers=workers, overwrite=overwrite)
    videos = json.loads((root / CONFIG_FILE).read_text())["videos"]
    tracks = sum(len(v["tracks"]) for v in videos)
    console.print(f"synthetic corpus at [bold]{root}[/]", highlight=False)
    console.print(f"{len(videos)} videos, {tracks} annotated tracks (valence, arousal per frame), affwild2 layout, seed {seed}",
                  highlight=False)
