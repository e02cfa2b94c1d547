"""``bench prepare``: build a corpus's manifest and prepare it into a feature store."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli import app
from bench.cli.common import console


@app.command("prepare")
def prepare_command(
    dataset: str = typer.Option(..., "--dataset", "-d", help="cremad, ravdess, mspimprov, affwild2, manifest or synthetic."),
    root: Path = typer.Option(..., "--root", help="Folder of the corpus (or the manifest CSV for 'manifest')."),
    option: list[str] = typer.Option(None, "--option", help="Corpus adapter option, e.g. --option labels=/data/labels.csv or --option label_source=perceived"),
    frames: int = typer.Option(16, "--frames", help="Frames sampled uniformly per clip (T)."),
    fps: float = typer.Option(0.0, "--fps", help="Video steps per second for clips with per-frame annotations (affwild2); 0: the default (5)."),
    image_size: int = typer.Option(48, "--image-size", help="Side of the face crops the model sees (S)."),
    crop_size: int = typer.Option(112, "--crop-size", help="Side of the full-resolution crop used for optical flow."),
    face: str = typer.Option("haar", "--face", help="Face detector: haar, or none for pre-cropped faces."),
    flow: str = typer.Option("dis", "--flow", help="Optical flow: dis, farneback, tvl1 or none."),
    workers: int = typer.Option(0, "--workers", "-j", help="Worker processes (0: one per idle core, at most 4)."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first bad clip instead of skipping it."),
    audio_model: Path = typer.Option(None, "--audio-model", help="Local folder of a wav2vec2-style model."),
    audio_layer: int = typer.Option(-1, "--audio-layer", help="Hidden layer of the audio model to keep."),
    image_model: Path = typer.Option(None, "--image-model", help="Local TorchScript image model file."),
    out: Path = typer.Option(None, "--out", help="Store folder (default: <bench home>/stores/<key>)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    verify: bool = typer.Option(
        False, "--verify", help="Fully check every finished clip (load each array, no NaN/inf) and rebuild damaged ones."
    ),
) -> None:
    """Decode, crop faces, compute optical flow and log-mel features into a resumable feature store."""
    from bench.data.corpora import build_manifest  # lazy: corpus adapters pull in their own deps
    from bench.data.prepare import PrepareConfig, prepare, summary_details, summary_table

    config = PrepareConfig(
        num_frames=frames,
        fps=fps,
        image_size=image_size,
        crop_size=crop_size,
        face_detector=face,  # type: ignore[arg-type]  (validated by PrepareConfig)
        flow=flow,  # type: ignore[arg-type]
        audio_model=str(audio_model) if audio_model else None,
        audio_layer=audio_layer,
        image_model=str(image_model) if image_model else None,
    )
    from bench.cli.manifest import parse_options

    manifest = build_manifest(dataset, root, strict=strict, **parse_options(option))
    store = prepare(manifest, config, workers=workers, strict=strict, root=out, progress=not quiet, verify=verify)
    console.print(summary_table(store.summary))
    if quiet:  # otherwise prepare() has printed them already, under its summary line
        for line in summary_details(store.summary):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"store: {store.root}", highlight=False, soft_wrap=True)
