"""`creatorscore features`: the feature frames of a dataset, per creator and per collaboration."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from data.cli import load_dataset_or_exit
from data.io import check_output_path, write_frame

console = Console()


def features(
    data: Path = typer.Option(..., "--data", help="Dataset directory (contract tables)."),
    out: Path = typer.Option(..., "--out", help="Output file (.csv or .parquet) for the "
                             "per-creator features; per-collaboration features go beside it "
                             "as <stem>_collaborations<suffix> when the dataset has campaigns."),
) -> None:
    """Compute the documented numeric feature frames of a dataset."""
    from features import build_feature_frames

    try:
        check_output_path(out)
    except ValueError as error:
        console.print(f"[red]--out: {error}[/red]")
        raise typer.Exit(2) from None
    dataset = load_dataset_or_exit(data)
    with console.status("Computing features..."):
        frames = build_feature_frames(dataset)
    write_frame(frames["creators"], out)
    console.print(f"{len(frames['creators']):,} creators x {frames['creators'].shape[1]} "
                  f"features -> {out}")
    if "collaborations" in frames:
        collab_out = out.with_name(f"{out.stem}_collaborations{out.suffix}")
        write_frame(frames["collaborations"], collab_out)
        console.print(f"{len(frames['collaborations']):,} collaborations x "
                      f"{frames['collaborations'].shape[1]} features -> {collab_out}")


def register(app: typer.Typer) -> None:
    app.command()(features)
