"""Studies: the paper's contamination study as a resumable grid, and its tables."""

from .study import Cell, cell_config, check_cells, grid, run_study, score_report, score_views, write_tables
from .tables import read_rows, render_csv, render_markdown

__all__ = ["Cell", "grid", "cell_config", "check_cells", "run_study", "write_tables", "read_rows", "render_markdown",
           "render_csv", "score_views", "score_report"]
