"""``neurovae compare``: a table of evaluated runs beside the papers' figures, and a grid with one row per model."""

from __future__ import annotations

import argparse
from pathlib import Path

from neurovae.cli.common import add_data_argument, add_force_argument, add_out_argument, check_output


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Register ``compare``."""
    compare = commands.add_parser("compare", help="evaluated runs side by side with the papers' figures")
    compare.add_argument("runs", nargs="+", metavar="RUN", help="run directories, each evaluated by `neurovae eval`")
    add_out_argument(compare, default="comparison", help="output folder (default: comparison)")
    compare.add_argument("--images", type=int, default=10, help="test images per grid row (default 10)")
    add_data_argument(compare)
    add_force_argument(compare)
    compare.set_defaults(handler=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    """Print the table, write it as Markdown and the image grids."""
    from neurovae.evaluate.compare import markdown_table, save_model_grid, summarize_run
    from neurovae.io import atomic_path

    out = Path(args.out)
    check_output(out, force=args.force, folder=True)
    summaries = [summarize_run(run) for run in args.runs]  # every run is checked before anything is written
    table = markdown_table(summaries)
    print(table)
    with atomic_path(out / "comparison.md") as tmp:
        tmp.write_text(table + "\n")
    grids = save_model_grid(summaries, out, count=args.images, data_dir=args.data)
    print(f"wrote {out / 'comparison.md'}, " + ", ".join(str(g) for g in grids))
    return 0
