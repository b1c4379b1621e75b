"""`wildgan report RUN_DIR|STUDY_DIR`: one self-contained HTML page a person can open (offline), plus report.md.

A run report holds the config, the metrics table (AUC/AP of every score beside the controls: the untrained
networks and pixel statistics; and the AUCs per anomalous class of the test split, evaluation.by_class's), the
paper's figures (t-SNE, latent histograms, closest matches, ROC curves, score histograms, training curves, generated
samples) and the most anomalous test images with their heat maps.
A study report holds the study's tables, its AUC-versus-gamma plot and every result row.

Everything goes to PATH/report/: report.html (images embedded as base64 data URIs, so the file alone is the
report), report.md (references the PNGs written beside it) and the PNGs themselves.

Where things are, top to bottom:

* Text helpers: the cell format of numbers, the little Markdown the pages use rendered as HTML, CSV and JSONL.
* `_Page`: every section is written once and kept twice, as HTML (images embedded) and as Markdown (PNG links).
* The report folder: `_report_folder` gives a new, empty folder to write into and swaps it in for PATH/report/ only
  once the report is complete (REPORT_FILES: the outputs a new report replaces; someone's own files are kept).
* Run report: `run_report` checks its arguments (and the masks) and scores the --image files first, then
  `_write_run_report` builds the page in its order: the data, the numbers (`diagnose_run` for a labelled test split:
  metrics, figures, heat maps of the top images; `_diagnose_training_pile` for an unlabelled pile: the top images
  of the pile itself), the training curves and samples, the images named with --image, the config.
* Study report: `study_report`, from the study's results.jsonl, tables.md and plots.
* `report`: the entry point, a run or a study by what the folder holds.
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import html
import inspect
import io
import json
import os
import re
import shutil
import stat
import tempfile
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..checkpoint import list_checkpoints, refuse_saved_detector, short_commit
from ..config import (HEADER_TRAINED_ON, SCORE_NAMES, SHORT_TRAINING_KIMG, config_yaml_record, is_sample_path,
                      own_score, read_run_config, run_config_to_dict, threads_text)
from ..data import (build_split, conversion_opts, load_image_files, newly_skipped, recorded_normal_classes,
                    split_differences, split_summary)
from ..data.eval_files import (EVAL_JSON, SCORES_CSV, SEARCH_CACHE, eval_files_there, names_text, unmatched_side_files,
                               unmatched_why)
from ..data.splits import decoded_apart, is_rotated_copy, rounded_contamination, rounded_share
from ..data.dataset_files import dataset_among_images_error, labels_needed_by
from ..data.source_identity import restore_advice, source_replaced
from ..data.readers import as_path_list, ids_under_folder, is_dataset_file, missing_run_data_error
from ..errors import (RUN_DEPTH16, CheckpointError, ConfigError, DataError, HeldWarning, depth16_said, depth16_said_as,
                      option_words, shell_word, skip_bad_option, warn_user)
from ..fileio import FULL_DISK, atomic_write_text, umask, unwritable_error
from ..markdown import md_code, md_escape, md_link_target, md_table, split_md_row
from ..progress import progress_label
from ..scoring.latent_search import search_info
from ..scoring.run import load_model, read_split_info
from ..scoring.scores import SCORES_VERSION, UNRECORDED_SCORES_VERSION
from ..scoring.train_scores import cache_left_out, cache_paths, read_train_scores, warn_left_out
from ..thresholds import (DEFAULT_CONTAMINATION, DEFAULT_MAD_K, FIT_THRESHOLD_FILE, Threshold, fit_record_param,
                          fit_threshold, read_fit_threshold, training_percentile)
from ..training.run import evaluate_command, networks_record, stale_evaluation
from ..training.schedule import kimg_to_the_image, recorded_kimg_text
# (GammaPlot re-exported: a StudyScoreView's figures, which studies.study.score_views makes)
from .by_class import BY_CLASS_CSV, PRINTED_CLASSES, auc_by_class, by_class_csv_text
from .gamma_curves import BAND_NOTE, GammaPlot, auc_vs_gamma, figure_names, gamma_plots
from .heatmaps import (NamedImages, check_masks, load_masks, map_block, map_lod, pick_score, pixel_auc,
                       reconstructions_as_scored, residual_maps, score_named_images, top_k,
                       undefined_pixel_auc)
from .metrics import auc_uncertainty, evaluate_scores, interval_text, p_text, paired_test_text, pixel_tests_text
from .rows import (NOT_JSON_OBJECTS, NOT_STUDY_ROWS, PIXEL_CONTROLS, checked_lines, left_out_text, line_problem,
                   row_problem, row_scoring, scoring_differences, differences_text, tables_pool)
from .run import (control_columns, evaluation_dirs, mean_latent_norms, read_search_cache, reading_change,
                  other_generator, other_generator_scores, score_controls, score_settings_changes,
                  split_for_run, trained_label)

# Whether the report being written named images (--image / images=): the `wildgan report RUN ...` commands its page
# and warnings name take them too, as FILES, or pasted they report without the named images (the page's section of
# them, their percentiles and flags gone). Set for the page's writing (_write_run_report), read where those commands
# are made, deep in sections that are not otherwise told of the named images.
_NAMES_IMAGES: ContextVar[bool] = ContextVar("report_names_images", default=False)

# (matplotlib, through `from . import plots`, is imported only by the functions that draw)

MAX_NAMED_MAPS = 50      # heat-map panels of named images in one report (all of them are in the table and the CSV)
# The pages' header of the threshold's decision (yes/no there): the word the page's prose uses, with the column
# that holds it, 0/1, in top_anomalous.csv and named_images.csv, as in `wildgan score --threshold`'s CSV
FLAG_HEADER = "flagged (is_anomaly)"
Log = Callable[[str], None]


def _quiet(msg: str) -> None:
    """The default log: says nothing."""


# ------------------------------------------------------------------------------------------------------------------
# Text helpers

def read_jsonl(path: Path, *, warn: bool = True) -> list[dict[str, Any]]:
    """Rows of a JSONL file (stats.jsonl). A torn last line (a run still writing, or killed mid-write) is left out
    without a word (fileio.json_lines); any other line that is not a JSON object is left out and, with warn, named
    with its line number and why in one warning (a caller that reads the file again for the same page passes False
    to all but one read): the page is still made from the other rows, but a damaged log is not passed off as whole."""
    rows, said = _checked_jsonl(path)
    if said and warn:
        warn_user(said)
    return rows


def _checked_jsonl(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """(read_jsonl's rows, its warning naming the lines left out, or None when there are none)."""
    rows, bad = checked_lines(path, line_problem)
    return rows, (left_out_text(path, bad, NOT_JSON_OBJECTS) if bad else None)


def _fmt(v: Any) -> str:
    """A table cell: floats to 3 decimals (3 significant digits when tiny or huge), anything else as str()."""
    if isinstance(v, float):
        if v != v:
            return "nan"
        return f"{v:.3f}" if v == 0 or 1e-3 <= abs(v) < 1e6 else f"{v:.3g}"  # keep 1e-5 from showing as 0.000
    return str(v)


# a backslash escape (markdown.md_escape writes them into text taken from file names) or a code span, whichever
# comes first: an escaped backtick starts no code span, and a backslash inside a code span is literal, as in Markdown.
# A span's fence may be several backticks (markdown.md_code, for a command whose path holds one): it ends at a run of
# exactly as many
_MD_LITERAL = re.compile(r"\\([!-/:-@\[-`{-~])|(?<!`)(`+)(?!`)(.+?)(?<!`)\2(?!`)")


def _md_inline(text: str) -> str:
    """One line of Markdown text -> HTML: escaped, with **bold** and `code` spans (the ones tables.md and the report's
    own notes use; they showed as literal asterisks and backticks), and backslash escapes read as the character they
    escape (a file name `*scan*.png` is written `\\*scan\\*.png`, and must not show its backslashes here). No
    single-* or _ emphasis: formulas such as L_n or a*b would turn italic."""
    parts, at = [], 0
    for m in _MD_LITERAL.finditer(text):
        parts.append(html.escape(text[at:m.start()]))
        # as character references: a `*` kept literal must not pair up in the **bold** pass below
        lit = m.group(1)
        if lit is None:
            lit = m.group(3)
            if lit.startswith(" ") and lit.endswith(" ") and lit.strip():
                lit = lit[1:-1]      # (md_code's padding beside a backtick, stripped as CommonMark strips it)
        lit = "".join("&#42;" if c == "*" else html.escape(c) for c in lit)
        parts.append(lit if m.group(1) is not None else f"<code>{lit}</code>")
        at = m.end()
    out = "".join(parts) + html.escape(text[at:])
    return re.sub(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", r"<strong>\1</strong>", out)


def _md_to_html(text: str) -> str:
    """Just enough Markdown for tables.md: headings, pipe tables (with `\\|` for a pipe inside a cell, as GitHub
    reads it), paragraphs (everything else kept verbatim but for **bold** and `code`, _md_inline)."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        ln = lines[i].rstrip()
        if ln.startswith("|"):
            block = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                block.append(lines[i].strip())
                i += 1
            cells = [split_md_row(b) for b in block]  # `\|` inside a cell is a literal pipe, not a separator
            body = [c for c in cells[1:] if not all(set(x) <= set(":- ") for x in c)]
            th = "".join(f"<th>{_md_inline(c)}</th>" for c in cells[0])
            trs = "".join("<tr>" + "".join(f"<td>{_md_inline(c)}</td>" for c in r) + "</tr>" for r in body)
            out.append(f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>")
            continue
        if ln.startswith("#"):
            level = min(6, len(ln) - len(ln.lstrip("#")) + 1)  # tables.md's '#' sits below the page's h1/h2
            out.append(f"<h{level}>{_md_inline(ln.lstrip('#').strip())}</h{level}>")
        elif ln.strip():
            out.append(f"<p>{_md_inline(ln)}</p>")
        i += 1
    return "\n".join(out)


def _score_columns(scores: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The anomaly scores among `scores`, in SCORE_NAMES order (without z_norm, which points the other way): the
    columns of the report's tables and CSVs, and what its figures draw."""
    return {k: scores[k] for k in SCORE_NAMES if k in scores}


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def _percentile(ref: np.ndarray, v: float) -> float:
    """Where v sits among the reference scores, in percent (see wildgan.thresholds.training_percentile)."""
    ref = np.asarray(ref, dtype=np.float64)
    ref = ref[np.isfinite(ref)]
    if len(ref) == 0:
        return float("nan")        # a report shows what it can; a diverged run's training scores give no scale
    if np.isnan(v):
        return 100.0               # a NaN score is the most anomalous, as in score's train_percentile column
    return float(training_percentile(ref, [v])[0])


def _relpath(p: Path, start: Path) -> str:
    return os.path.relpath(Path(p).resolve(), Path(start).resolve())


def _page_path(p: str | Path, run_dir: Path) -> str:
    """A path as a run report's text names it (escape it for Markdown where it becomes Markdown): a file inside the
    run relative to the run directory, which the page's first line names in full ('network-final.json'), anything
    else absolute. The page is opened from anywhere and sent on, so a path relative to wherever `wildgan report`
    was run (as the networks' file was named, beside an absolute run directory) pointed nowhere."""
    full, run = Path(p).resolve(), Path(run_dir).resolve()
    return full.relative_to(run).as_posix() if full.is_relative_to(run) else str(full)


def _data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")


# ------------------------------------------------------------------------------------------------------------------
# The page

@dataclass
class _Page:
    """Accumulates the same content twice: as HTML (embedded images) and as Markdown (relative PNG links)."""

    title: str
    md_dir: Path
    html_parts: list[str] = field(default_factory=list)
    md_parts: list[str] = field(default_factory=list)

    def h(self, level: int, text: str) -> None:
        self.html_parts.append(f"<h{level}>{_md_inline(text)}</h{level}>")
        self.md_parts.append(f"{'#' * level} {text}\n")

    def p(self, text: str) -> None:
        self.html_parts.append(f"<p>{_md_inline(text)}</p>")    # (the same text is Markdown on the other side)
        self.md_parts.append(text + "\n")

    def pre(self, text: str, lang: str = "") -> None:
        self.html_parts.append(f"<pre>{html.escape(text)}</pre>")
        self.md_parts.append(f"```{lang}\n{text.rstrip()}\n```\n")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], literal: Sequence[int] = ()) -> None:
        """literal: the columns of text taken from file names (an image's id), escaped in the Markdown (md_escape)."""
        th = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
        trs = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
        # wide tables (a study's flattened rows have ~40 columns) scroll instead of stretching the page
        self.html_parts.append(f'<div class="scroll"><table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody>'
                               "</table></div>")
        self.md_parts.append(md_table([_fmt(c) for c in header],
                                      [[md_escape(_fmt(c), pipe=False) if j in literal else _fmt(c)
                                        for j, c in enumerate(r)] for r in rows]) + "\n")

    def img(self, png: Path, caption: str = "", width: int | None = None) -> None:
        style = f' style="max-width:{width}px"' if width else ""
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.html_parts.append(f'<figure><img src="{_data_uri(png)}" alt="{html.escape(caption or png.name)}"'
                               f"{style}>{cap}</figure>")
        # the caption is plain text (an image's id is its file name): escaped, so that `*a*.png` or `[x](y)` in it
        # reads as written; the link's target percent-encoded, so that a space or `)` in a name does not end it
        rel = md_link_target(Path(_relpath(png, self.md_dir)).as_posix())
        cap = md_escape(caption or png.stem)
        self.md_parts.append(f"![{cap}]({rel})\n" + (f"\n*{cap}*\n" if caption else ""))

    def raw(self, html_text: str, md_text: str) -> None:
        """Content written out separately for each page (a list of links, a rendered table)."""
        self.html_parts.append(html_text)
        self.md_parts.append(md_text)

    def note(self, text: str, plain: bool = False) -> None:
        """A paragraph that must not be missed (stale numbers): red in HTML, bold in Markdown. plain: `text` is no
        Markdown but plain text that may name a user's file (a warning built outside this module, which the console
        and the JSON files say as it is): escaped here, where it becomes Markdown (md_escape), and read back so in
        HTML."""
        md = md_escape(text) if plain else text
        self.raw(f'<p class="note">{_md_inline(md)}</p>', f"**{md}**\n")

    def write(self, out_dir: Path) -> Path:
        page = _HTML_TEMPLATE.format(title=html.escape(self.title), body="\n".join(self.html_parts),
                                     generated=html.escape(_dt.datetime.now().isoformat(timespec="seconds")))
        out = out_dir / "report.html"
        atomic_write_text(out, page)
        atomic_write_text(out_dir / "report.md", f"# {md_escape(self.title)}\n\n" + "\n".join(self.md_parts))
        return out


# The inline script records on <body> how many images failed to decode: a test (or a person) can check
# data-broken-images without trusting that every data URI is valid.
_HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; padding: 0 1em; }}
table {{ border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
th {{ background: #f0f0f0; }} td:first-child, th:first-child {{ text-align: left; }}
pre {{ background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.8em; max-height: 30em; }}
figure {{ display: inline-block; margin: 0.4em; vertical-align: top; }}
figure img {{ max-width: 100%; image-rendering: pixelated; }}
figcaption {{ font-size: 0.8em; color: #555; max-width: 480px; }}
.scroll {{ overflow-x: auto; }} .note {{ color: #a00; }} .muted {{ color: #666; font-size: 0.85em; }}
</style></head>
<body data-broken-images="unchecked">
<h1>{title}</h1>
<p class="muted">generated {generated} by wildgan report</p>
<p id="broken-note" class="note"></p>
{body}
<script>
window.addEventListener("load", function () {{
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (im) {{ return !(im.complete && im.naturalWidth > 0); }});
  document.body.dataset.imagesTotal = String(imgs.length);
  document.body.dataset.brokenImages = String(broken.length);
  if (broken.length) {{
    document.getElementById("broken-note").textContent = broken.length + " image(s) failed to load";
  }}
}});
</script>
</body></html>
"""


# ------------------------------------------------------------------------------------------------------------------
# The report folder

# Everything a report writes into PATH/report/, as patterns relative to it. A new report removes those of the
# previous report that it does not write again (a report without --image must not keep the last one's
# named_images.csv, nor --top-k 0 its top_anomalous.csv); files of other names, someone's own, are left alone.
# (tests/unit/evaluation/test_report.py checks that a report writes nothing outside these.)
REPORT_FILES = ("report.html", "report.md", "metrics.json", "roc.png", "score_hist.png", "tsne.png", "latent_hist.png",
                "closest_matches.png", "training_curves.png", "auc_vs_gamma.png", "auc_vs_gamma-normal-*.png",
                "auc_vs_gamma-score-*.png",
                "top_anomalous.csv", BY_CLASS_CSV,
                "named_images.csv", "heatmaps/*.png", "heatmaps/top_heatmaps.npz", "samples/*.png")
_PARTIAL = ".report-partial-"           # the folder a report is written into before it replaces PATH/report
_OLD = ".report-old-"                   # the previous PATH/report while it is swapped out, until it is deleted
_ABANDONED_S = 24 * 3600                # such a folder untouched this long was left by a killed report
_SWAP_S = 60                            # a .report-old-* folder renamed longer ago than this is no swap in progress


@contextmanager
def _report_folder(path: Path, log: Log) -> Iterator[Path]:
    """A new, empty folder beside PATH/report/ to write a report into. When the block ends normally it becomes
    PATH/report/ (with the files of the old report/ that are not report outputs, REPORT_FILES: someone's own); when
    it raises, the new folder is removed and the previous report stays whole (an error in the middle of a report
    used to leave the old report.md pointing at figures of the new one)."""
    path = Path(path)
    _refuse_report_in_the_way(path)
    _remove_abandoned(path)
    try:
        stage = Path(tempfile.mkdtemp(dir=path, prefix=_PARTIAL))
    except OSError as e:
        # (the error named the hidden staging folder, which the user never asked for); a read-only place, no
        # permission or a full disk is the user's to change, said as other bad input is (exit 2 in the CLI)
        advice = f"copy the folder somewhere writable, or make it writable (the report goes into {path / 'report'})"
        raise (unwritable_error(e, path, advice, label="a report in", at=path)
               or OSError(e.errno, f"cannot write a report in {path} ({e.strerror or e}): {advice}")) from None
    try:
        yield stage
        _replace_report(stage, path / "report", log)
    except OSError as e:
        if e.errno not in FULL_DISK:
            raise
        # a full disk as a figure was drawn (matplotlib's PNG write through PIL, which names no file) ended the report
        # on a bare `[Errno 28] No space left on device`; an atomic write's named the hidden staging folder. Named as
        # the file in report/ (the folder itself where no file is known), the place the user looks at
        try:
            where = path / "report" / Path(e.filename).relative_to(stage) if e.filename else path / "report"
        except (TypeError, ValueError):             # (a file outside the staging folder: its own name)
            raise e from None
        raise OSError(e.errno, e.strerror, str(where)) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _refuse_report_in_the_way(path: Path) -> None:
    """ConfigError where PATH/report is no folder for the report to go into (a file of that name, or a link to
    nothing): asked before anything is scored. The report was made (minutes of scoring for a run) and then lost at
    its very end, on a bare `[Errno 17] File exists`."""
    out = Path(path) / "report"
    if out.is_dir() or not os.path.lexists(out):
        return
    what = (f"a link to {os.readlink(out)}, which is not there" if out.is_symlink() and not out.exists() else
            "a file, not a folder")
    raise ConfigError(f"cannot write a report in {path}: {out} is {what}, and the report is the folder report/ "
                      f"there; move or rename {out}, and run the report again")


def _replace_report(new: Path, out: Path, log: Log) -> None:
    """Make the complete report in `new` PATH/report/ by swapping the folders with two renames, the old one kept
    until the new one is in place. Moving the files one by one, as before, left a mixed report (new report.md, old
    figures, or half the heat maps) when it stopped partway: a kill, a full disk, a file in use."""
    written = {p.relative_to(new) for p in new.rglob("*") if p.is_file()}
    outputs = {p for pattern in REPORT_FILES for p in out.glob(pattern) if p.is_file()} if out.is_dir() else set()
    stale = sorted((p for p in outputs if p.relative_to(out) not in written),
                   key=lambda p: (len(p.relative_to(out).parts), p.name))   # named_images.csv before heatmaps/*
    if out.is_symlink() or (out.exists() and (not out.is_dir() or os.stat(out).st_dev != os.stat(new).st_dev)):
        # report/ as a link to (or a mount of) another disk: a rename cannot move the new folder there
        _replace_report_files(new, out, written, stale)
    else:
        # mkdtemp made the folder 0700: it gets the old report's mode, or the usual umask-based one, once it is
        # complete (a read-only mode set before would refuse the own files carried into it)
        mode = stat.S_IMODE(os.stat(out).st_mode) if out.is_dir() else 0o777 & ~umask()
        if out.is_dir():
            _carry_own_files(out, new, outputs)
        _remove_empty_folders(new)
        os.chmod(new, mode)
        if not out.is_dir():
            os.rename(new, out)
        else:
            old = out.with_name(f"{_OLD}{os.getpid()}-{os.urandom(4).hex()}")
            try:
                os.rename(out, old)
            except OSError:
                # report/ cannot be renamed while it is in use on Windows (a file in it open in another program, a
                # shell whose current folder it is), nor when it is a mount point: nothing has moved yet, so the
                # files are replaced one by one instead, as into a report/ on another disk
                _replace_report_files(new, out, written, stale)
            else:
                try:
                    os.rename(new, out)
                except BaseException:
                    os.rename(old, out)        # the old report back in its place: never no report at all
                    raise
                shutil.rmtree(old, ignore_errors=True)
    if stale:
        names = [p.relative_to(out).as_posix() for p in stale]
        log(f"removed {len(names)} output{'s' if len(names) != 1 else ''} of the previous report that this one does "
            f"not write ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})")


def _remove_empty_folders(report: Path) -> None:
    """The report folder's heatmaps/ and samples/ removed where empty (this report has none of them); one that holds
    anything (someone's notes carried over) stays. Both ways of replacing a report end with it."""
    for d in ("heatmaps", "samples"):
        try:
            (report / d).rmdir()               # (fails where not empty, or not there: nothing to remove)
        except OSError:
            pass


def _carry_own_files(old: Path, new: Path, outputs: set[Path]) -> None:
    """Hard-link (or copy) into `new` everything in the old report folder that is not one of its report `outputs`
    (someone's notes beside the report), links as links."""
    for dirpath, dirnames, filenames in os.walk(old):
        src = Path(dirpath)
        dst = new / src.relative_to(old)
        for name in [*dirnames, *filenames]:
            a, b = src / name, dst / name
            if a.is_symlink():
                if not b.exists() and not b.is_symlink():
                    os.symlink(os.readlink(a), b)
                if name in dirnames:
                    dirnames.remove(name)          # not walked into: the link is carried, not its target
            elif name in dirnames:
                b.mkdir(exist_ok=True)
            elif a not in outputs and not b.exists():
                b.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(a, b)
                except OSError:                    # a file system without hard links
                    shutil.copy2(a, b)


def _replace_report_files(new: Path, out: Path, written: set[Path], stale: list[Path]) -> None:
    """File-by-file replacement, for a report/ that a rename cannot replace (a link to, or a mount of, another
    file system)."""
    out.mkdir(parents=True, exist_ok=True)
    for rel in sorted(written):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(new / rel, out / rel)
    for p in stale:
        p.unlink(missing_ok=True)
    _remove_empty_folders(out)


def _remove_abandoned(path: Path) -> None:
    """The partial report folders of reports killed mid-way (SIGKILL, a crash: no cleanup ran), once untouched
    for a day (a report still being written elsewhere into the same folder is not one); and the old report/ of a
    swap killed between its two renames: put back when there is no report/, else deleted (the swap completed)."""
    for d in path.glob(_PARTIAL + "*"):
        try:
            newest = max([d.stat().st_mtime, *(p.stat().st_mtime for p in d.rglob("*"))])
        except OSError:
            continue
        if d.is_dir() and time.time() - newest > _ABANDONED_S:
            shutil.rmtree(d, ignore_errors=True)
    olds = []
    for d in path.glob(_OLD + "*"):
        try:
            renamed = d.lstat().st_ctime          # a rename sets it: a swap in progress is microseconds old
        except OSError:
            continue
        if d.is_dir() and not d.is_symlink() and time.time() - renamed > _SWAP_S:
            olds.append((renamed, d))
    for _, d in sorted(olds, reverse=True):
        if not (path / "report").exists() and not (path / "report").is_symlink():
            try:
                os.rename(d, path / "report")
                continue
            except OSError:
                pass
        shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------------------------------------------------------------------
# Run report: the entry point and its checks

def run_report(run_dir: Path, *, top_k_images: int = 8, images: str | Path | Sequence[str | Path] = (),
               score: str | None = None, masks: np.ndarray | str | Path | None = None, device: str = "auto",
               controls: bool = True, tsne_points: int = 2000, log: Log = _quiet, skip_bad: bool = False,
               progress: bool = False, batch_mode: str = "mixed") -> Path:
    """Write RUN_DIR/report/{report.html, report.md, *.png}; returns the HTML path. progress: bars while the test
    split and the named images (`images`) are read and scored. The report is written beside the old one and replaces
    it only once complete: the outputs of the previous report that this one does not write again (REPORT_FILES) are
    removed, and a report that fails leaves the previous one whole.

    masks: optional ground-truth defect masks aligned with the run's test split ([N, H, W], 0 = normal pixel,
    positive = defect), an array or an .npy file; when given, the pixel-level ROC AUC of the heat maps is reported.
    They are checked (one per test image, at the network resolution, finite non-negative values) before any
    scoring. tsne_points: at most this many test latents (a seeded subsample) go into the t-SNE, whose cost grows
    faster than linearly with the number of points. skip_bad: leave unreadable files among `images` out (each named
    in a warning) instead of stopping, place them among training scores cached without the training files
    unreadable since training (see scoring.train_scores), and rank an unlabelled run's training pile without them.
    score: the score that ranks the most anomalous images; default the method's own (f-AnoGAN's A, else a).
    batch_mode: as `wildgan score --batch-mode` (wildgan runs): 'mixed' scores every image set (the test split, the
    pile, the named images) in shuffled batches, 'isolated' each image alone, and the thresholds and percentiles
    then come from the training scores cached in the same protocol (train_scores-isolated.csv), so that the report's
    numbers are those of `score --batch-mode isolated`. Other methods have one protocol: a warning, and 'mixed'."""
    # (a labelled run's report reads its test split's labels again: a refusal of damaged ones names mending them, not
    # dataset='unlabelled', an option of the Detector's and a DataConfig's, not run_report's. Within report() or
    # `wildgan report`, the caller's setting stands: what the user called is named)
    # (a run's data is read again by the rule the run recorded, which no option of the report's changes: a refused
    # file named --depth16 / depth16=, which it refuses; an outer command's words stand, as evaluate_run's)
    with labels_needed_by("report", "run_report", unless_said=True), \
            depth16_said_as(depth16_said() if depth16_said() is not None else RUN_DEPTH16):
        return _run_report(run_dir, top_k_images=top_k_images, images=as_path_list(images), score=score, masks=masks,
                           device=device, controls=controls, tsne_points=tsne_points, log=log, skip_bad=skip_bad,
                           progress=progress, batch_mode=batch_mode)


def _run_report(run_dir: Path, *, top_k_images: int, images: Sequence[str | Path], score: str | None,
                masks: np.ndarray | str | Path | None, device: str, controls: bool, tsne_points: int, log: Log,
                skip_bad: bool, progress: bool, batch_mode: str) -> Path:
    """run_report's work, within its labels_needed_by."""
    refuse_saved_detector(run_dir, "run_report")
    check_report_args(score, top_k_images, tsne_points, images, batch_mode)
    _refuse_report_in_the_way(Path(run_dir))      # (before the named images are scored, not only before the run)
    mask_name, mask_file = "masks", isinstance(masks, (str, Path))
    if isinstance(masks, (str, Path)):
        mask_name, masks = str(masks), load_masks(masks)
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    if batch_mode != "mixed" and cfg.method != "wildgan":
        # (as score says it; the CLI says it first and passes 'mixed')
        warn_user(f"--batch-mode / batch_mode applies to wildgan runs (the encoder's minibatch stddev); this "
                  f"{cfg.method} run scores as it always does")
        batch_mode = "mixed"
    if score is None:
        score = own_score(cfg.method)
    split_info = read_split_info(run_dir)
    # the named images are read here, once, converted as the run's networks take them (as score_named_images would):
    # a bad file is refused before the report folder is touched and the long scoring starts
    # (with where each image sits among the files listed: --skip-bad's unreadable files leave their slots in the
    # score batches, as `score --skip-bad` leaves them, so that both give the same scores and flags)
    loaded = load_image_files(list(images), cfg.net.resolution, cfg.net.channels, **conversion_opts(split_info),
                              skip_bad=skip_bad, progress=progress) if images else None
    if masks is not None:
        masks = _checked_masks(masks, mask_name, run_dir, cfg, split_info)
    model, named = None, None
    if loaded is not None:
        # ... and scored at once, keeping their scores and the few mapped images, not all their pixels: held through
        # the report, those sat beside the training pile that an unlabelled run's report decodes and ranks
        try:
            model = load_model(run_dir, device)
        except CheckpointError as e:
            named_as = option_words("--image", "images=")
            raise CheckpointError(f"{run_dir}: cannot score {named_as} files without trained networks ({e})") from None
        named = _score_named(model, images, loaded, score, log, progress, batch_mode)
        del loaded
    if mask_file:
        mask_name = _page_path(mask_name, run_dir)    # (named on the page, opened from anywhere: not as given)
    with _report_folder(run_dir, log) as out:
        _write_run_report(run_dir, out, cfg, split_info, top_k_images=top_k_images, images=images, named=named,
                          model=model, score=score, masks=masks, mask_name=mask_name, device=device,
                          controls=controls, tsne_points=tsne_points, log=log, skip_bad=skip_bad,
                          progress=progress, batch_mode=batch_mode)
    path = run_dir / "report" / "report.html"
    log(f"wrote {path}")
    return path


def check_report_args(score: str | None, top_k_images: int, tsne_points: int,
                      images: Sequence[str | Path] = (), batch_mode: str = "mixed") -> None:
    """Refuse bad arguments before anything is computed or written."""
    if batch_mode not in ("mixed", "isolated"):
        raise ConfigError(f"unknown batch mode {batch_mode!r}: choose mixed or isolated")
    if score is not None and score not in SCORE_NAMES:
        raise ConfigError(f"unknown score {score!r}: choose one of {', '.join(SCORE_NAMES)} (higher = more "
                          f"anomalous)")
    # (report()'s and run_report's keywords for a Python caller, the options for the CLI's, which calls this too)
    if top_k_images < 0:
        raise ConfigError(f"{option_words('--top-k', 'top_k_images')} must be >= 0, got {top_k_images}")
    if tsne_points < 5:
        raise ConfigError(f"{option_words('--tsne-points', 'tsne_points')} must be at least 5 (t-SNE needs a few "
                          f"points), got {tsne_points}")
    for p in images:
        if not Path(p).exists():
            raise DataError(f"{p}: no such file or folder ({option_words('--image', 'images=')})")
        if is_dataset_file(p):        # an .npz, tar or CIFAR batches: not an image, whatever --skip-bad says
            raise dataset_among_images_error(Path(p))


def _checked_masks(masks: np.ndarray, name: str, run_dir: Path, cfg: Any, split_info: dict[str, Any]
                   ) -> np.ndarray:
    """The masks as check_masks returns them, checked against the run's test split as split.json records it (count,
    resolution), before anything is scored; a warning up front when their pixel AUC will be undefined."""
    if split_info.get("protocol") == "unlabelled" or split_info.get("detector_input"):
        what = "unlabelled images" if split_info.get("protocol") == "unlabelled" else "images given to Detector.fit"
        raise ConfigError(f"{name}: masks are for the test images of a run's own test split, and {run_dir} was "
                          f"trained on {what}: it has no test split to align them with")
    n = split_info.get("n_test")
    res = split_info.get("resolution") or cfg.net.resolution
    m = check_masks(masks, int(n) if isinstance(n, int) else None, int(res), name)
    why = undefined_pixel_auc(m)
    if why is not None:
        warn_user(f"{name}: {why}: the pixel-level AUC is undefined (the report says so and is written without it)")
    return m


# ------------------------------------------------------------------------------------------------------------------
# Run report: the page, section by section

def _write_run_report(run_dir: Path, out: Path, cfg: Any, split_info: dict[str, Any], *, top_k_images: int,
                      images: Sequence[str | Path], named: NamedImages | None, model: Any, score: str,
                      masks: np.ndarray | None, mask_name: str, device: str,
                      controls: bool, tsne_points: int, log: Log, skip_bad: bool = False,
                      progress: bool = False, batch_mode: str = "mixed") -> None:
    """run_report's page, written into `out` (the new report's folder, before it replaces RUN_DIR/report), in the
    page's order: what the run is, its numbers (a labelled run's metrics, figures and top test images, or an
    unlabelled run's top training images), its training, the named images (`named`: `images` scored by
    `model`, the run's networks, which the rest uses too; None: loaded here), its config. batch_mode: the protocol
    every image is scored in and the training scores are read of (run_report)."""
    token = _NAMES_IMAGES.set(bool(images))
    try:
        _write_run_page(run_dir, out, cfg, split_info, top_k_images=top_k_images, named=named, model=model,
                        score=score, masks=masks, mask_name=mask_name, device=device, controls=controls,
                        tsne_points=tsne_points, log=log, skip_bad=skip_bad, progress=progress, batch_mode=batch_mode)
    finally:
        _NAMES_IMAGES.reset(token)


def _write_run_page(run_dir: Path, out: Path, cfg: Any, split_info: dict[str, Any], *, top_k_images: int,
                    named: NamedImages | None, model: Any, score: str, masks: np.ndarray | None, mask_name: str,
                    device: str, controls: bool, tsne_points: int, log: Log, skip_bad: bool, progress: bool,
                    batch_mode: str) -> None:
    """_write_run_report's page, with _NAMES_IMAGES set for the commands it names."""
    (out / "heatmaps").mkdir(parents=True, exist_ok=True)
    page = _Page(title=f"wildgan report: {run_dir.resolve().name}", md_dir=out)
    page.p(f"Run directory: {md_escape(run_dir.resolve())}")
    data = _data_text(split_info)
    if data:
        page.p(data)
    page.p(f"Method {cfg.method}, preset {cfg.preset}. Label 1 = anomaly; higher score = more anomalous.")
    if batch_mode == "isolated":
        # every number below differs a little from a mixed-batch report's (and from eval.json's): said once, up top
        page.p("Batch mode isolated: every image is scored on its own (`wildgan score --batch-mode isolated`), not "
               "in the shuffled mixed batches of `wildgan evaluate`; thresholds and percentiles come from the "
               "training scores of the same protocol (train_scores-isolated.csv).")

    unlabelled = split_info.get("protocol") == "unlabelled"
    # (skip_bad: the rebuilt split's warning naming files unreadable since training is held while the named images'
    # cached training scores are read, right after the rebuild and before the (long) scoring of the test split, not
    # when their section is drawn: where those leave the same files out, their warning joins it, one warning for one
    # cause; it is said before the scoring, not after it)
    held = HeldWarning()
    read: dict[str, Any] = {}           # the cached training scores, as read then

    def join(m: Any) -> dict[str, np.ndarray] | None:
        # (read for the threshold section, and the named images' percentiles: with the rebuilt split, so that a
        # cache that leaves out files unreadable since training joins the warning naming them)
        read["cache"] = read_train_scores(run_dir, m, batch_mode, skip_bad=skip_bad, held=held)
        return read["cache"]

    try:
        model, diag = _diagnose(page, run_dir, cfg, split_info, device=device, controls=controls, log=log,
                                top_k_images=top_k_images, score=score, model=model, skip_bad=skip_bad, held=held,
                                join=join, progress=progress, batch_mode=batch_mode)
    finally:
        held.say()
    ref = (_named_reference(run_dir, model, diag, unlabelled, skip_bad, read, batch_mode) if named is not None
           else None)
    train = _training_scores(run_dir, model, diag, skip_bad, read, batch_mode) if diag is not None else None
    thr = None
    if diag is not None and unlabelled:
        thr = _pile_section(page, out, run_dir, model, diag, cfg, score, top_k_images, log, train=train,
                            batch_mode=batch_mode, skip_bad=skip_bad)
    elif diag is not None:
        _metrics_section(page, out, run_dir, diag, cfg, masks, mask_name, lod=map_lod(model))
        _figures_section(page, out, diag, cfg, tsne_points, log)
        # (a Detector.fit on a DataConfig has a test split too, and recorded its threshold: its row joins the rules)
        # (skip_bad: the cache of `score --threshold --skip-bad` the rules' rows were taken from is fit's row's too)
        thr = _threshold_section(page, diag, cfg, score, train, n_train=split_info.get("n_train"),
                                 rounded=rounded_contamination(split_info),
                                 fitted=_fit_rule(run_dir, model, pick_score(diag.scores, score), batch_mode,
                                                  skip_bad, read.get("cache")),
                                 batch_mode=batch_mode, left_out=_unread_left_out(run_dir, model, batch_mode, skip_bad),
                                 recorded=_command_rule(run_dir, model), skip_bad=skip_bad)
        _heatmap_section(page, out, diag, score, top_k_images, log, cfg=cfg, lod=map_lod(model), thr=thr)
    elif model is not None and split_info.get("detector_input"):
        # no test split and no images to rebuild, but the cached training scores and the rule fit recorded, and
        # the evaluation `wildgan evaluate RUN --data LABELLED` saved beside them (the page left it out)
        _saved_evaluation(page, run_dir, model)
        thr = _detector_threshold_section(page, run_dir, model, cfg, score, read, batch_mode, skip_bad,
                                          split_info.get("n_train"))
    _training_sections(page, out, run_dir)
    if named is not None:
        _named_section(page, out, model, named, score, ref=ref, thr=thr, batch_mode=batch_mode, skip_bad=skip_bad)
    page.h(2, "Config")
    page.pre(_config_text(run_dir), "yaml")
    page.write(out)


def _data_text(split_info: dict[str, Any]) -> str | None:
    """The 'Data: ...' paragraph from split.json: what the run was trained (and tested) on; None without one."""
    shape = f"{split_info.get('resolution')}x{split_info.get('resolution')}x{split_info.get('channels')}"
    if split_info.get("protocol") == "unlabelled":
        return (f"Data: an unlabelled pile from {md_escape(split_info.get('source', '?'))}: "
                f"{split_info.get('n_train', '?')} training images (how many are anomalous is unknown: that is the "
                f"point), no test split; {shape}.")
    if split_info.get("detector_input"):
        # Detector.fit on images it was given: no classes, no contamination, no test split of its own
        return (f"Data: {split_info.get('n_train', '?')} training images given to Detector.fit "
                f"({md_escape(split_info.get('source', '?'))}), no labels and no test split; {shape}.")
    if split_info:
        # (the sample's path is the one of the installation that trained the run, which may be gone or elsewhere)
        source = "the embedded MNIST sample" if is_sample_path(split_info.get("source")) else \
            md_escape(split_info.get("source", "?"))
        normal = recorded_normal_classes(split_info)
        classes = "class" if len(normal) == 1 else "classes"
        return (f"Data: {split_info.get('protocol', '?')} from {source}; normal {classes} "
                f"{', '.join(md_escape(n) for n in normal)}; gamma {split_info.get('gamma')}; "
                f"{split_info.get('n_train', '?')} training images ({split_info.get('n_train_anomalous', '?')} "
                f"anomalous), {split_info.get('n_test', '?')} test images ({split_info.get('n_test_anomalous', '?')}"
                f" anomalous); {shape}.")
    return None


def _diagnose(page: _Page, run_dir: Path, cfg: Any, split_info: dict[str, Any], *, device: str, controls: bool,
              log: Log, top_k_images: int, score: str, model: Any = None,
              skip_bad: bool = False, held: HeldWarning | None = None,
              join: Callable[[Any], Any] | None = None, progress: bool = False,
              batch_mode: str = "mixed") -> tuple[Any, RunDiagnostics | None]:
    """(the networks, what the report shows of them): diagnose_run for a run with a test split, the top of the
    training pile for an unlabelled run; diagnostics None where there is nothing to score (a Detector.fit run, a pile
    that cannot be read again), and no networks either before the first checkpoint. What is missing, and why, is
    said on the page. model: the run's networks, when the caller has loaded them. skip_bad: an unlabelled run's
    training files unreadable since training are left out of its ranking; a labelled run's unreadable files are left
    out of its rebuilt split, as by evaluate --skip-bad (split_for_run names them; held, join: see diagnose_run).
    batch_mode: the protocol the images are scored in, and their cached training scores read of (run_report)."""
    try:
        if split_info.get("detector_input"):
            model = model if model is not None else load_model(run_dir, device)
            # (split.json's source: the folder or file fit read, or 'in-memory ndarray'; a folder's run was said
            # to be of in-memory images)
            src = str(split_info.get("source") or "")
            on = ("in-memory images: there is no test split to evaluate and its training images cannot be rebuilt "
                  "from the run" if not src or src.startswith("in-memory") else
                  f"the images of {md_escape(src)}: there is no test split to evaluate, and this report does not read "
                  f"them again (`wildgan train` on the folder ranks a pile's own images)")
            # (the cache of the report's protocol: an isolated report reads train_scores-isolated.csv, not the
            # mixed train_scores.csv the page named whatever the protocol)
            cache, skipped = _cache_name(batch_mode), cache_left_out(run_dir, model, batch_mode)
            left, opt = len(skipped or []), skip_bad_option()
            s = "s" if left != 1 else ""
            # a cache that leaves files out was written after fit, by a scoring with skip_bad (fit scores every
            # image it trained on), and is read only with skip_bad (or by a run trained with it): "fit cached" and
            # "shows the threshold" were not what happened. A complete one may be fit's or a later scoring's
            # (`wildgan score --threshold`, from_run, after its cache was removed): its key records no writer, so it
            # is not said to be fit's. A stale cache (the run trained on since, other data) is none: its count was
            # said of scores the report does not read
            reads = skip_bad or bool(model.cfg.data.skip_bad)
            shows = ("the training curves and samples, and the heat maps of the images named with --image, but no "
                     f"threshold: no training scores of these networks are cached in {cache} (the Threshold "
                     "section says what computes them)" if skipped is None else
                     f"the threshold taken from the training scores cached in {cache}, the training curves and "
                     "samples, and the heat maps of the images named with --image (their scores are placed among "
                     "those training scores)" if not left else
                     f"the threshold taken from the training scores cached in {cache} after fit by a scoring with "
                     f"{opt}, which left out {left} file{s} unreadable by then, the training curves and samples, and "
                     "the heat maps of the images named with --image (their scores are placed among those training "
                     "scores)" if reads else
                     "the training curves and samples, and the heat maps of the images named with --image, but no "
                     f"threshold: the training scores cached in {cache} after fit by a scoring with {opt} leave out "
                     f"{left} file{s} unreadable by then, and only a report with {opt} reads them")
            page.p(f"This run was trained by Detector.fit on {on}, so this report shows {shows}.")
            return model, None
        if split_info.get("protocol") != "unlabelled":
            return diagnose_run(run_dir, device=device, controls=controls, log=log, model=model, skip_bad=skip_bad,
                                held=held, join=join, progress=progress, batch_mode=batch_mode, score=score)
        try:
            return _diagnose_training_pile(run_dir, cfg, device, log, top_k_images, score, model=model,
                                           skip_bad=skip_bad, batch_mode=batch_mode, progress=progress)
        except DataError as e:
            # the training images were moved or deleted since training: the report still has the curves, the
            # samples, and the named images, placed among the cached training scores where the report reads them
            log(f"warning: {e}")
            model = model if model is not None else load_model(run_dir, device)
            # (its bad lines are named once, by _training_sections, which reads it for the page next)
            curves = ("the training curves and samples" if read_jsonl(run_dir / "stats.jsonl", warn=False)
                      else "the samples")
            among = _named_among_text(run_dir, model, batch_mode, skip_bad, _other_score(score, cfg))
            page.p(f"The training images could not be read ({md_escape(e)}), so this report has no ranking or heat "
                   f"maps of them: it shows {curves}, and the heat maps of the images named with --image ({among}).")
            return model, None
    except CheckpointError as e:  # still training, or crashed before any checkpoint: show what there is
        if not _has_networks(run_dir):
            page.raw(f'<p class="note">No trained networks yet: {html.escape(str(e))}</p>',
                     f"**No trained networks yet:** {md_escape(e)}\n")
            return None, None
        # networks that are there but do not load (a truncated copy, a hand edit) are no "not yet": the page said
        # so, and the console only "wrote report.html", which read as a report with its scores
        log(f"warning: the run's networks do not load, so the report has no scores or heat maps: {e}")
        page.raw(f'<p class="note">The run\'s networks do not load: {html.escape(str(e))}</p>',
                 f"**The run's networks do not load:** {md_escape(e)}\n")
        return None, None


def _cache_name(batch_mode: str) -> str:
    """The file name of the training-score cache of a protocol (scoring.train_scores.cache_paths), for the page."""
    return cache_paths(Path(), batch_mode)[0].name


def _named_among_text(run_dir: Path, model: Any, batch_mode: str, skip_bad: bool, score: str | None = None) -> str:
    """Where the percentiles of the images named with --image come from when the report has no training images of
    its own to rank them among (an unlabelled run whose pile cannot be read again): the protocol's current cache of
    these networks' training scores (_named_reference reads it), or why there are none. A cache that leaves files
    out (`score --threshold --skip-bad`) is not read without skip_bad: the page said the named images were placed
    among it all the same, and never named the report that does read it. score: the report's, where a command must
    name it (_other_score)."""
    cache, skipped = _cache_name(batch_mode), cache_left_out(run_dir, model, batch_mode)
    if skipped is None:
        return f"with no percentiles: no training scores of these networks are cached in {cache}"
    left = _unread_left_out(run_dir, model, batch_mode, skip_bad)
    if not left:
        return f"placed among the training scores cached in {cache}"
    opt, s = skip_bad_option(), "s" if left != 1 else ""
    return (f"with no percentiles: the training scores cached in {cache} were computed with {opt}, which left out "
            f"{left} file{s} unreadable by then, and a report reads such scores only with {opt}: "
            f"{md_code(_skip_bad_report_command(batch_mode, score=score))} places the named images among them")


def _unread_left_out(run_dir: Path, model: Any, batch_mode: str, skip_bad: bool) -> int:
    """How many unreadable files the protocol's current training-score cache leaves out where the report did not
    read it for want of skip_bad (read_train_scores reads such a cache only with skip_bad, or for a run trained with
    it); 0 where it read it, or there is no such cache (missing, stale, or leaving nothing out)."""
    if skip_bad or model.cfg.data.skip_bad:
        return 0
    return len(cache_left_out(run_dir, model, batch_mode) or [])


def _skip_bad_report_command(batch_mode: str, run: Path | None = None, score: str | None = None) -> str:
    """The report that reads training scores cached with skip_bad, as its user gives it: `wildgan report RUN
    --skip-bad` for the CLI's, report(RUN, skip_bad=True) for a Python caller's (errors.option_words). run: the run
    named in it (as a shell word or a Python string), or RUN (the page's commands name it so). score: the report's
    score where it is not the method's own (_other_score), given as the page's other commands give it: without it,
    the report named showed the thresholds and percentiles of another score than the page that named it. The
    report's named images (_NAMES_IMAGES) are named too, as FILES: without them it reported without them."""
    iso, files = batch_mode == "isolated", _NAMES_IMAGES.get()
    return option_words(f"wildgan report {'RUN' if run is None else shell_word(run)} --skip-bad"
                        f"{'' if score is None else ' --score ' + shell_word(score)}"
                        f"{' --batch-mode isolated' if iso else ''}{' --image FILES' if files else ''}",
                        f"report({'RUN' if run is None else repr(str(run))}, skip_bad=True"
                        f"{'' if score is None else ', score=' + repr(score)}"
                        f"{', batch_mode=' + repr(batch_mode) if iso else ''}{', images=FILES' if files else ''})")


def _other_score(name: str, cfg: Any) -> str | None:
    """The report's score `name` where a command must name it (it is not the run's method's own), else None."""
    return None if name == own_score(cfg.method) else name


def _left_out_text(name: str, cache: str, left: int, batch_mode: str, of: str = "for these networks",
                   score: str | None = None) -> str:
    """Why a report without skip_bad has no threshold from a current cache that leaves `left` files out: they are
    there, read only with skip_bad (never a threshold silently taken from fewer training images than the run
    had), and the report that shows them. of: which scores, as the sentence before it says them. score: the report's,
    where a command must name it (_other_score)."""
    opt, s = skip_bad_option(), "s" if left != 1 else ""
    return (f"the training scores of {name} {of} are cached ({cache}), but were computed with {opt}, which left out "
            f"{left} file{s} unreadable by then, and a report reads such scores only with {opt}, so that no "
            f"threshold is taken from fewer training images than the run had without saying so: "
            f"{md_code(_skip_bad_report_command(batch_mode, score=score))} shows them")


def _has_networks(run_dir: Path) -> bool:
    """Whether the run wrote networks (final or a checkpoint), loadable or not."""
    return (any((run_dir / name).exists() for name in ("network-final.json", "fanogan-final.json"))
            or bool(list_checkpoints(run_dir / "checkpoints")))


def _pile_section(page: _Page, out: Path, run_dir: Path, model: Any, diag: RunDiagnostics, cfg: Any, score: str,
                  k: int, log: Log, train: tuple[dict[str, np.ndarray], str] | None = None,
                  batch_mode: str = "mixed", skip_bad: bool = False) -> Threshold | None:
    """An unlabelled run's numbers: the networks that ranked the pile, a labelled evaluation saved beside it, and
    the k highest-scoring images of the pile itself with their heat maps. Returns the threshold their table's
    is_anomaly column (FLAG_HEADER) uses (_threshold_section's). skip_bad: report --skip-bad, whose cached
    training scores may leave unreadable files out (see _fit_rule)."""
    page.h(2, "Unlabelled data")
    # which networks ranked the pile, and whether they reached full resolution: a run stopped early (--minutes,
    # a short --total-kimg) ranks and maps the pile at the resolution it reached, as a labelled run's report says
    net = {"source": _page_path(model.source, run_dir), "kimg": model.meta.get("kimg"),
           "status": model.meta.get("status"), "lod": model.lod, "versions": model.meta.get("versions"),
           "intra_op_threads": model.meta.get("intra_op_threads")}
    page.p(_networks_text(net) + _grown_text(net, cfg))
    # (the command as it thresholds this report's score and protocol: plain, it thresholds the method's own score of
    # mixed batches)
    opts = _score_options(pick_score(diag.scores, score), cfg, batch_mode, skip_bad)
    page.p("The run was trained on unlabelled images, so it has no test split and no AUC of its own. Below are the "
           "images of the training pile itself that score highest: the candidates for the anomalies hidden in "
           f"it. `wildgan score RUN --data NEW{opts} --threshold contamination` flags new images with a threshold "
           "taken from these training scores.")
    kimg = net["kimg"]
    if cfg.method == "wildgan" and pick_score(diag.scores, score) == "a" and isinstance(kimg, (int, float)) \
            and kimg < SHORT_TRAINING_KIMG:
        # a pile has no labels for evaluate to show `a` against its controls: the README's rule, said where the
        # ranking by a is shown (13 kimg on 300 cell crops: a ranked the one elliptocyte the most normal of all)
        more = _score_options("L_r", cfg, batch_mode, skip_bad)
        page.p(f"After a short training ({kimg:g} kimg) the score a can still follow the pixels and rank anomalies "
               f"as the most normal images of all; rank by the residual L_r instead, as the README advises: "
               f"`wildgan report RUN{more}` ranks and maps the pile by it, `wildgan score RUN --data NEW{more} "
               "--threshold contamination` flags by it ('Which score after a short training').")
    _saved_evaluation(page, run_dir, model)
    page.p("Labels of the pile are unknown, hence '?' in the captions and the table, an empty label in "
           "top_anomalous.csv.")
    if diag.rotated_copies:
        n = diag.rotated_copies
        page.p(f"Each file of the pile is listed once, ranked by its own image: the {n:,} rotated cop"
               f"{'y' if n == 1 else 'ies'} the run trained on (`--rotations`, ids `FILE#rotK`) are left out of the "
               f"list, and counted among the training scores that percentiles and the threshold are taken from.")
    # (skip_bad: a cache of `score --threshold --skip-bad`, as the ranking read it, is the one fit's row is taken
    # from again; not the pile's scores this report computed, which are not what fit's threshold was taken from)
    cached = diag.trained if diag.reference_changed else diag.reference if diag.reference_cached else None
    thr = _threshold_section(page, diag, cfg, score, train, unlabelled=True,
                             fitted=_fit_rule(run_dir, model, pick_score(diag.scores, score), batch_mode, skip_bad,
                                              cached),
                             batch_mode=batch_mode, left_out=_unread_left_out(run_dir, model, batch_mode, skip_bad),
                             recorded=_command_rule(run_dir, model), skip_bad=skip_bad)
    _heatmap_section(page, out, diag, score, k, log, what="training", cfg=cfg, lod=map_lod(model), thr=thr)
    return thr


def _saved_evaluation(page: _Page, run_dir: Path, model: Any) -> None:
    """The labelled evaluation `wildgan evaluate --data` saved in an unlabelled run's folder (eval.json): its AUCs
    when it is of the networks this report shows, by this wildgan's scoring rules (SCORES_VERSION) and the run's
    score settings, its files read as evaluate reads them now (reading_change); when a --resume has trained on since,
    or the score formulas or settings or the reading of its files changed, only what it was of and the command that
    evaluates the current networks (its numbers are not theirs, so they are not shown)."""
    saved = run_dir / EVAL_JSON
    if not saved.is_file():
        return
    # the page's commands name the run as its first line does, in full: a path relative to wherever the report was
    # made does not paste anywhere else; its file, eval.json, is named in the run directory (_page_path)
    where = run_dir.resolve()
    try:
        ev = json.loads(saved.read_text(encoding="utf-8"))
        what = (f"A labelled evaluation was saved by `wildgan evaluate --data` on "
                f"{md_escape(ev.get('data', {}).get('source', '?'))} ({ev.get('n_test')} images, "
                f"{ev.get('n_anomalous')} anomalous)")
        stale = stale_evaluation(where, where / saved.name, model.meta)
        version = ev.get("scores_version", UNRECORDED_SCORES_VERSION)    # (an eval.json from before the field)
        changed = score_settings_changes(ev, model.cfg)
        # its files of the other bit depth than the run's, read by an older rule than evaluate's now
        read = reading_change(ev, read_split_info(run_dir), model.cfg.data.depth16)
        # the evaluation's files there, all of them stale alike (data.eval_files, the one list of its outputs)
        files = f"({', '.join(eval_files_there(saved))})"
        if stale is None and version == SCORES_VERSION and not changed and read is None:
            # with each AUC's interval, and the controls below, as a labelled run's Metrics: on a user's few labelled
            # images (38, 8 anomalous) a bare "AUC a 0.429" hid that its interval ran from 0.22 to 0.67
            ci = ev.get("auc_ci95") or {}
            page.p(f"{what}: AUC " + ", ".join(f"{k} {v:.3f}" + (f" ({interval_text(ci[k])})" if ci.get(k) else "")
                                              for k, v in ev.get("auc", {}).items()) + " (eval.json).")
            mixed = unmatched_side_files(saved.parent, ev)
            if {"auc", "ap"} <= set(ev):
                _saved_evaluation_table(page, ev, own_score(model.cfg.method))
                # its nan rows explained as the Metrics table's are (_not_finite_text): they said nothing
                undefined = _saved_not_finite_text(ev, saved.parent, mixed)
                if undefined:
                    page.note(undefined)
            if mixed:
                # an evaluation stopped among its renames (eval.json is renamed last), or an edit: per-image files
                # beside this eval.json that are not its own, which a reader of both would mix
                one = len(mixed) == 1
                page.note(f"{names_text(mixed)} beside eval.json {'differs' if one else 'differ'} from what this "
                          f"evaluation wrote (eval.json records each one's size and sha256): "
                          f"{unmatched_why(len(mixed))}. The AUCs above are eval.json's own; run "
                          f"{md_code(evaluate_command(where, where / saved.name, ev))} again to write the "
                          f"evaluation's files anew, together.")
            return
        if stale is not None:
            text = (f"{what}, but from {stale[0]}, not of the networks this report shows; its AUCs "
                    f"{files} are not theirs. Run {md_code(stale[1])} again to evaluate "
                    f"the current networks.")
        else:
            # of these networks, but by other score formulas or settings (config.json's score section edited since):
            # its AUCs are not what the networks score now
            how = (f"by the scoring rules of version {version} (this wildgan's are {SCORES_VERSION})"
                   if version != SCORES_VERSION else
                   f"with other score settings than the run's config.json holds ({'; '.join(changed)})"
                   if changed else f"with {read}")
            again = evaluate_command(where, where / saved.name, ev)
            text = (f"{what}, but {how}; its AUCs {files} are not what these networks score now. Run "
                    f"{md_code(again)} again to evaluate them.")
    except (ValueError, OSError, TypeError, AttributeError) as e:
        # said, not skipped: the page would otherwise read as if the run had never been evaluated
        text = (f"{md_escape(_page_path(saved, run_dir))} is there but cannot be read ({type(e).__name__}: "
                f"{md_escape(e)}); its labelled evaluation is not shown. Run "
                f"{md_code(f'wildgan evaluate {shell_word(where)} --data LABELLED')} again to write it anew.")
    page.note(text)


def _metrics_header(ev: dict[str, Any]) -> list[str]:
    """The columns of _metrics_rows' table of an evaluation (eval.json, or a labelled run's diagnostics)."""
    og = ev.get("other_generator", {}).get("generator")
    return ["score", "AUC", "95% CI", "AP", "AUC untrained", "p vs untrained", "AP untrained",
            f"AUC with {og or 'other generator'}"]


def _saved_evaluation_table(page: _Page, ev: dict[str, Any], own: str) -> None:
    """The table of a saved labelled evaluation (eval.json) of an unlabelled run: the AUCs with their intervals and
    controls, as a labelled run's Metrics gives them."""
    page.table(_metrics_header(ev), _metrics_rows(ev))
    against = _pixel_tests(ev, own)
    page.p(f"95% CI: the AUC's interval over these {ev.get('n_test')} labelled images only (DeLong's logit interval "
           f"with Newcombe's score interval, evaluation.auc_ci): few images, wide intervals. Neither it nor 'p vs "
           f"untrained' counts the spread of training itself (another seed), which is often larger. A trained score "
           f"means something only above its controls (a pixel control below 0.5 with its sign flipped)."
           + (f" {own} minus each pixel control ({paired_test_text(ev.get('auc_vs_controls'))}): {against}."
              if against else "")
           + ("" if "controls" in ev else " This evaluation was made with --no-controls: run `wildgan evaluate` "
              "without it for the controls to judge these AUCs by, not 0.5."))


def _pixel_tests(ev: dict[str, Any], own: str) -> str:
    """The paired tests of the score `own` against the pixel controls, as the Metrics paragraph says them, or '' where
    none is defined (a score not finite on some image: 'pixel_norm - (p -), pixel_std - (p -)' said nothing)."""
    tests = (ev.get("auc_vs_controls") or {}).get(own)
    if not isinstance(tests, dict) or all(not isinstance(d, dict) or d.get("diff") is None
                                          for c, d in tests.items() if c != "untrained"):
        return ""
    return pixel_tests_text(tests)


def _metrics_section(page: _Page, out: Path, run_dir: Path, diag: RunDiagnostics, cfg: Any,
                     masks: np.ndarray | None, mask_name: str, lod: float = 0.0) -> None:
    """A labelled run's metrics: the AUC/AP table with its controls, where the latents sit, the pixel AUC of the
    masks (of maps at `lod`, the one scored); and metrics.json (the networks' file as loaded, the page's in the
    run directory: _page_path)."""
    m = diag.metrics
    page.h(2, "Metrics")
    shown = {**m["model"], "source": _page_path(m["model"]["source"], run_dir)}
    page.p(f"{_networks_text(shown)} {m['n_test']} test images, {m['n_anomalous']} anomalous."
           f"{_grown_text(m['model'], cfg)}")
    og = m.get("other_generator", {}).get("generator")
    page.table(_metrics_header(m), _metrics_rows(m))
    undefined = _not_finite_text(diag.scores, "test")
    if undefined:
        page.note(undefined)
    own = own_score(cfg.method)               # (f-AnoGAN's A: its a is not what it ranks by)
    against = _pixel_tests(m, own)
    page.p("95% CI: the AUC's interval over the test images (DeLong's logit interval with Newcombe's score interval, "
           f"evaluation.auc_ci); 'p vs untrained': the {paired_test_text(m.get('auc_vs_controls'))} "
           "of the AUC against the same score of the untrained networks on the same images. Neither counts "
           "the spread of training itself (another seed), which is often larger."
           + (f" {own} minus each pixel control, paired the same way: {against}." if against else ""))
    page.p("Controls: 'untrained' = the same architecture with the run's initial weights; pixel_* = minus a "
           "pixel statistic of the query (fixed sign). A trained score is only meaningful above its controls; a "
           "control below 0.5 is as informative with its sign flipped, so compare with max(AUC, 1 - AUC)."
           + (f" 'AUC with {og}': the same scores with the other generator ({og} instead of the one scored); a "
              f"large gap between G and its EMA Gs means Gs has not caught up with G (short runs)." if og else
              # a search run trains G and Gs as ours does, but its evaluation scores one of them only
              f" Latent search is scored with {cfg.score.generator} only, so the last column is empty."
              if cfg.method == "search" else " This method has one generator, so the last column is empty."))
    if "controls" not in m:
        # (report --no-controls) the text above explains controls the table then does not hold
        page.p("No controls on this page: it was made with --no-controls, so the untrained networks and the pixel "
               "statistics were not scored and their columns are empty. Judge the AUCs against the controls of "
               "`wildgan evaluate` (without --no-controls: eval.json) or of a report without --no-controls, not "
               "against 0.5.")
    if "mean_z_norm" in m and cfg.method != "search":         # search has no encoder: its z is a searched latent
        z = m["mean_z_norm"]
        lo, hi = sorted((z["normal"], z["anomalous"]))
        # within 1%: no side to report (0.1% apart was called "nearer")
        where = ("about as far from the origin as" if hi - lo <= 0.01 * hi else
                 "nearer to the origin than" if z["anomalous"] < z["normal"] else "farther from the origin than")
        page.p(f"Mean ||E(Q)||: normal {z['normal']:.3f}, anomalous {z['anomalous']:.3f}: here anomalies sit "
               f"{where} normal images (the paper expects nearer; L_o = -||E(Q)||/sqrt(N_z) relies on it).")
    if "by_class" in m:
        _by_class_section(page, out, m["by_class"])
    if masks is not None:
        _pixel_auc_text(page, diag, masks, mask_name, lod)
    atomic_write_text(out / "metrics.json", json.dumps(m, indent=2, default=str))


def _not_finite_text(scores: dict[str, np.ndarray], what: str) -> str | None:
    """Why the Metrics table reads nan, where some images' scores are not finite (networks that diverged on them):
    an AUC is undefined over a NaN score (evaluation.metrics.roc_auc), and the table's rows of nan said nothing of
    it. None where every score is finite."""
    columns = {k: ~np.isfinite(np.asarray(v, dtype=np.float64)) for k, v in _score_columns(scores).items()}
    bad = [k for k, b in columns.items() if b.any()]
    if not bad:
        return None
    rows = np.any(np.stack(list(columns.values())), axis=0)
    return (f"The scores of {int(rows.sum())} of the {len(rows)} {what} images are not finite (NaN or infinite: the "
            f"networks diverged on them), so the AUC, AP and interval of {', '.join(bad)} are undefined (nan), not "
            f"a result. A ranking by such a score puts those images first, as the most anomalous, as `wildgan "
            f"score --threshold` flags them.")


def _saved_not_finite_text(ev: dict[str, Any], folder: Path, mixed: Sequence[str]) -> str | None:
    """_not_finite_text for a saved evaluation (eval.json): why its table reads nan. eval.json keeps the AUCs (nan,
    or null, where undefined), not the scores, so the images are counted from its test_scores.csv where that is there
    and its own (not among `mixed`, unmatched_side_files); else the undefined scores are named without a count. None
    where every AUC is a number, or where one class only explains them (no image to blame)."""
    def undefined(v: Any) -> bool:
        return v is None or (isinstance(v, (int, float)) and not np.isfinite(v))

    auc = ev.get("auc") if isinstance(ev.get("auc"), dict) else {}
    bad = [k for k in SCORE_NAMES if k in auc and undefined(auc[k])]
    n, n_anomalous = ev.get("n_test"), ev.get("n_anomalous")
    if not bad or not (isinstance(n, int) and isinstance(n_anomalous, int) and 0 < n_anomalous < n):
        return None
    if SCORES_CSV not in mixed and (folder / SCORES_CSV).is_file():
        try:
            with open(folder / SCORES_CSV, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            scores = {k: np.array([float(r[k]) for r in rows]) for k in bad if rows and k in rows[0]}
        except (OSError, ValueError, KeyError, TypeError):
            scores = {}                   # (an unreadable file: the note without a count)
        if scores:
            text = _not_finite_text(scores, "test")
            if text is not None:
                return text
    return (f"The AUC, AP and interval of {', '.join(bad)} in eval.json are undefined (nan), not a result: some of "
            f"its {n} test images' scores were not finite (NaN or infinite: the networks diverged on them). "
            f"A ranking by such a score puts those images first, as the most anomalous, as `wildgan score "
            f"--threshold` flags them.")


def _by_class_section(page: _Page, out: Path, table: dict[str, Any]) -> None:
    """The AUCs per anomalous class of a labelled run's test split (diagnose_run's metrics['by_class'], made by
    evaluation.by_class as evaluate's eval.json keeps it): a table for PRINTED_CLASSES of them (one class is the
    overall AUC again; CIFAR-100's 99 would bury the page: more, a line saying where they are), and every class in
    auc_by_class.csv, as evaluate writes it."""
    atomic_write_text(out / BY_CLASS_CSV, by_class_csv_text(table))
    rows, by, n = table["classes"], table["rank_by"], table["n_test"]
    low, high = PRINTED_CLASSES
    if len(rows) < low:
        return
    if len(rows) > high:
        page.p(f"AUC per anomalous class: {len(rows)} classes, too many for this page: they are in metrics.json's "
               f"by_class and {BY_CLASS_CSV} beside it (the AUC of every score and control, the median rank by {by}).")
        return
    first = next(iter(rows.values()))
    # the report's score first, then the others the Metrics table shows
    columns = [by, *(k for k in first["auc"] if k != by)]
    controls = first.get("controls", {})
    # the controls (where scored) in tables of their own, one per kind: beside the scores they made one table of 16
    # columns (class, n, 5 scores, 5 untrained ones, 3 pixel statistics, the rank), 180 characters a Markdown line,
    # where a newcomer could not tell which classes each score catches. The untrained networks' table has the
    # scores' columns in the scores' order, so that a row compares with the same row above it; every column is
    # in BY_CLASS_CSV still
    untrained = [k for k in columns if f"untrained_{k}" in controls]
    others = [k for k in controls if not k.startswith("untrained_")]

    def cell(v: Any) -> Any:
        return "n/a" if v is None else v          # (an undefined AUC or rank: a score not finite)

    def rank(v: Any) -> str:
        return "n/a" if v is None else f"{v:g}"

    page.h(3, "AUC per anomalous class")
    page.table(["class", "n", *columns, f"median rank by {by} (of {n})"],
               [[name, r["n"], *(cell(r["auc"].get(k)) for k in columns), rank(r["median_rank"])]
                for name, r in rows.items()]
               + [["(normal)", table["normal"]["n"], *("" for _ in columns), rank(table["normal"]["median_rank"])]],
               literal=[0])
    page.p(f"Each AUC is of that class's test images against all {table['normal']['n']} test normals: under 0.5, the "
           f"score ranks the class below the normals, which one AUC over all the anomalies hides. Median rank: "
           f"where the class's images sit when the {n} test images are ranked by {by}, 1 = the most normal (the "
           f"lowest score; ties at their average rank); the last row is the normal images'. Also in {BY_CLASS_CSV} "
           f"(with how many of each class lie among the {table['most_normal']} that {by} ranks the most normal) and "
           f"metrics.json's by_class, computed as `wildgan evaluate` computes eval.json's (evaluation.by_class).")
    if untrained:
        page.h(4, "Controls per class: the untrained networks")
        page.table(["class", *untrained],
                   [[name, *(cell(r["controls"].get(f"untrained_{k}")) for k in untrained)]
                    for name, r in rows.items()], literal=[0])
        page.p("The same scores by the same networks untrained (untrained_a, ... in "
               f"{BY_CLASS_CSV}): a class that a score catches only as well as here is caught by the architecture, "
               "not by the training.")
    if others:
        page.h(4, "Controls per class: the pixel statistics")
        page.table(["class", *others], [[name, *(cell(r["controls"].get(k)) for k in others)]
                                        for name, r in rows.items()], literal=[0])


def _networks_text(ms: dict[str, Any]) -> str:
    """'Networks: FILE (kimg K, status S), trained by wildgan V (source C) with torch T on N intra-op threads.' from a
    model record (source, kimg, status, versions: the checkpoint's environment_versions, intra_op_threads)."""
    # f-AnoGAN's final networks record iterations, not kimg or a status: only what the checkpoint has is said
    trained = ", ".join(f"{k} {recorded_kimg_text(ms[k]) if k == 'kimg' else ms[k]}" for k in ("kimg", "status")
                        if ms.get(k) is not None)
    v = ms.get("versions") or {}
    # which code trained them: the version number alone does not tell two development builds apart
    by = ""
    if v.get("wildgan"):
        # (12 hex digits, as a study's tables say it; metrics.json keeps the record's 40)
        source = f" (source {short_commit(str(v['wildgan_source']))})" if v.get("wildgan_source") else ""
        torch_version = f" with torch {v['torch']}" if v.get("torch") else ""
        by = f", trained by wildgan {v['wildgan']}{source}{torch_version}"
    threads = threads_text(ms.get("intra_op_threads"))
    if threads:
        # CPU weights differ between thread counts: which made these ('1 then 2' for a run resumed under another;
        # networks recorded before it: unsaid)
        by += f" on {threads}"
    # (the networks' file is in the run's folder, a user's name: escaped here, metrics.json keeps it raw)
    return f"Networks: {md_escape(ms['source'])}{f' ({trained})' if trained else ''}{by}."


def _grown_text(ms: dict[str, Any], cfg: Any) -> str:
    """The warning, in bold, that the networks stopped before full resolution (lod > 0), or ''."""
    lod = float(ms.get("lod") or 0.0)
    if lod <= 0 or cfg.method == "fanogan":
        return ""
    r = int(cfg.net.resolution)
    s = r >> int(lod)
    # in the last fade-in the networks are at the data's resolution already, only not grown: "scored at 32x32, not
    # the data's 32x32" said nothing; which blend they are at is what tells the reader how far they got
    fading = f" (still fading in from {s // 2}x{s // 2})" if lod != int(lod) else ""
    other = f", not the data's {r}x{r}" if s != r else ""
    return (f" **Not fully grown: the networks stopped at lod {lod:g} and are scored at {s}x{s}{fading}{other}; "
            f"train longer (--resume --total-kimg) for results at full resolution.**")


def _metrics_rows(metrics: dict[str, Any]) -> list[list[Any]]:
    auc, ap = metrics["auc"], metrics["ap"]
    ctl, ctl_ap = metrics.get("controls", {}), metrics.get("controls_ap", {})
    un, un_ap = ctl.get("untrained", {}), ctl_ap.get("untrained", {})
    og = metrics.get("other_generator", {}).get("auc", {})
    ci, vs = metrics.get("auc_ci95") or {}, metrics.get("auc_vs_controls") or {}
    rows: list[list[Any]] = [[k, auc[k], interval_text(ci.get(k)), ap[k], un.get(k, "-"),
                              p_text(vs.get(k, {}).get("untrained", {}).get("p")), un_ap.get(k, "-"),
                              og.get(k, "-")] for k in SCORE_NAMES if k in auc]
    rows += [[f"{k} (control)", ctl[k], "-", ctl_ap.get(k, "-"), "-", "-", "-", "-"]
             for k in PIXEL_CONTROLS if k in ctl]
    return rows


def _pixel_auc_text(page: _Page, diag: RunDiagnostics, masks: np.ndarray, name: str, lod: float = 0.0) -> None:
    """The pixel-level ROC AUC of every test image's heat map against its mask (diag.metrics['pixel_auc']), or why
    it is undefined (also in metrics.json, 'pixel_auc_undefined'). lod: the one the images were scored at; the
    maps of a coarse run are scored at a lower resolution than the masks and compared with them at the masks' after
    their nearest enlargement (residual_maps), each scored pixel's value standing for the block it covers."""
    what = f"Pixel-level ROC AUC of the heat maps against the ground-truth masks ({md_escape(name)})"
    if diag.recon is None:
        page.p(f"{what}: none, this method gives no reconstructions to map.")
        return
    maps = residual_maps(diag.x, diag.recon, lod)
    pauc = pixel_auc(maps, masks, name)      # (checked again: the split rebuilt from the data may have changed)
    diag.metrics["pixel_auc"] = pauc
    why = undefined_pixel_auc(masks, maps) if pauc != pauc else None
    if why is not None:
        diag.metrics["pixel_auc_undefined"] = why
    b, r = map_block(lod), diag.x.shape[1]
    # a coarse map cannot place a defect finer than its blocks: the AUC is of the blocks, which the reader must know
    blocks = (f" The maps were scored at {r // b}x{r // b} and are compared with the {r}x{r} masks after their "
              f"nearest enlargement: each scored pixel's value stands for the {b}x{b} mask pixels it covers."
              if b > 1 else "")
    page.p(f"{what}: " + (f"{pauc:.3f}." if why is None else f"undefined: {why}.") + blocks)


def _figures_section(page: _Page, out: Path, diag: RunDiagnostics, cfg: Any, tsne_points: int, log: Log) -> None:
    """The paper's figures of a labelled run's test split: ROC curves, score histograms, t-SNE and histograms of
    the latents, closest matches."""
    from . import plots  # matplotlib: this section draws

    log("drawing the figures")
    page.h(2, "Figures")
    scores = _score_columns(diag.scores)
    page.img(plots.roc_curves(out / "roc.png", diag.y, scores, diag.controls), "ROC curves")
    page.img(plots.score_histograms(out / "score_hist.png", diag.y, scores), "score histograms, normal vs anomalous")
    code = _latent_code(cfg)
    latents = "searched test latents z*" if code == "z*" else "encoded test latents E(Q)"
    if diag.z is not None and len(diag.z) >= 5:
        page.img(plots.tsne_plot(out / "tsne.png", diag.z, diag.y, seed=cfg.train.seed, max_points=tsne_points,
                                 code=code), f"t-SNE of the {latents}")
        page.img(plots.latent_histograms(out / "latent_hist.png", diag.z, diag.y, code=code),
                 f"latent coefficients and ||{code}||, normal vs anomalous")
    if diag.recon is not None:
        # the reconstructions are the scored generator's (Gs for wildgan), as the heat maps' panels say
        gen = _generator(cfg)
        page.img(plots.closest_matches(out / "closest_matches.png", diag.x, diag.recon, diag.y,
                                       seed=cfg.train.seed, code=code, gen=gen),
                 f"closest matches: query row, {gen}({code}) row")


def _heatmap_section(page: _Page, out: Path, diag: RunDiagnostics, score: str, k: int, log: Log,
                     what: str = "test", cfg: Any = None, lod: float = 0.0, thr: Threshold | None = None) -> None:
    """The k most anomalous images' panels, their table and top_anomalous.csv. lod: the networks' (a run stopped
    before full resolution is scored at a lower one, which the maps' text must say). thr: the threshold of the table's
    is_anomaly column (FLAG_HEADER on the page, is_anomaly in top_anomalous.csv; _threshold_section's), None for
    none."""
    if diag.recon is None or k <= 0:
        return
    name = pick_score(diag.scores, score)
    top = top_k(diag.scores[name], k)
    lam = float(cfg.score.lam) if cfg is not None else 0.05
    gen = _generator(cfg) if cfg is not None else "Gs"
    code = _latent_code(cfg) if cfg is not None else "E(Q)"
    most = f"{len(top)} most anomalous {what} images" if len(top) != 1 else f"most anomalous {what} image"
    log(f"heat maps of the {most} (score {name})")
    page.h(2, f"The {most} (by score {name})")
    maps = residual_maps(diag.x[top], diag.recon[top], lod)
    from . import plots  # matplotlib: this section draws

    vmax = plots.colour_scale(maps)
    page.p(f"Heat map = |w(Q) - w({gen}({code}))| averaged over channels, w = per-image min-max (the residual that L_n "
           f"sums), beside the query; one colour scale for all maps of this section (0 to {vmax:.3g}), so "
           f"that they can be compared.{_coarse_map_text(lod, diag.x.shape[1])}")
    why = _why_text(diag.ref_scores, lam, what, code) if name == "a" else None
    if why:
        page.p(why)
    rows, table = [], []
    columns = _score_columns(diag.scores)
    z, ref = diag.scores.get("z_norm"), diag.ref_scores
    width = max(2, len(str(len(top))))            # top-001 ... top-100 with --top-k 100: names that sort like ranks
    for r, (i, hm) in enumerate(zip(top, maps), start=1):
        lab = {0: "normal", 1: "anomaly"}.get(int(diag.y[i]), "?")
        png = _heatmap_png(out / "heatmaps" / f"top-{r:0{width}d}.png", diag.x[i], hm, diag.recon[i],
                            f"#{r} {diag.ids[i]} ({lab}), {name} = {diag.scores[name][i]:.4g}", vmax=vmax,
                            gen=gen, code=code, block=map_block(lod))
        page.img(png, f"#{r}: {diag.ids[i]} ({lab})", width=520)
        # the table's columns beyond the scores, once for the page and top_anomalous.csv ('' where the run has none)
        z_pct = None if z is None else _percentile(ref["z_norm"], z[i])
        ln_pct = _percentile(ref["L_n"], diag.scores["L_n"][i]) if "L_n" in diag.scores else None
        flag = None if thr is None else not diag.scores[name][i] <= thr.value      # (NaN: flagged)
        # the CSV's label is 0/1 (1 = anomaly) as in `score`'s CSV, so one reader's code reads both; an unknown label
        # an empty cell, as a missing value is in every other column ('?' is a value a reader's code must know to skip)
        rows.append([r, diag.ids[i], "" if lab == "?" else int(diag.y[i])] + [float(v[i]) for v in columns.values()]
                    + ["" if z is None else float(z[i]), "" if z_pct is None else f"{z_pct:.2f}",
                       "" if ln_pct is None else f"{ln_pct:.2f}", "" if flag is None else int(flag)])
        if "L_n" in diag.scores and "L_o" in diag.scores:
            zi = "" if z is None else f"{z[i]:.3f} ({z_pct:.0f} pct)"
            # the two terms of a only where a ranks (as the named images' table gives them): beside --score L_r they
            # read as the terms of L_r, which the page explains nowhere
            terms = ([f"{lam * diag.scores['L_n'][i]:.4g}", f"{(1 - lam) * diag.scores['L_o'][i]:.4g}"]
                     if name == "a" else [])
            table.append([r, diag.ids[i], lab, f"{diag.scores[name][i]:.4g}", *terms, zi, f"{ln_pct:.0f}"]
                         + ([] if flag is None else ["yes" if flag else "no"]))
    if table:
        page.table(["rank", "id", "label", name, *([f"{lam:g}·L_n", f"{1 - lam:g}·L_o"] if name == "a" else []),
                    f"‖{code}‖ (percentile among the {what} images)", "L_n percentile",
                    *([] if thr is None else [FLAG_HEADER])], table, literal=[1])
    # the page's table's columns too (it showed ‖E(Q)‖, the percentiles and 'flagged', the CSV only the scores); the
    # decision named and written as `score --threshold`'s CSV writes it (is_anomaly, 0/1), so one reader reads both
    _write_csv(out / "top_anomalous.csv",
               ["rank", "id", "label", *columns, "z_norm", "z_norm_percentile", "L_n_percentile", "is_anomaly"], rows)
    # block: a coarse run's maps are enlarged; maps[:, ::block, ::block] are the ones scored (heatmaps.residual_maps)
    np.savez_compressed(out / "heatmaps" / "top_heatmaps.npz", maps=maps, ids=np.array([diag.ids[i] for i in top]),
                        block=np.int64(map_block(lod)))


def _training_scores(run_dir: Path, model: Any, diag: RunDiagnostics, skip_bad: bool, read: dict[str, Any],
                     batch_mode: str = "mixed") -> tuple[dict[str, np.ndarray], str] | None:
    """(the run's training images' scores, where they come from) for the threshold section, or None: the cache of
    `train` / `score --threshold` (train_scores.csv, of these networks: read_train_scores never gives a stale one),
    or for an unlabelled run without one the scores of the whole pile that this report computed to rank it. Never the
    test images' scores: a threshold chosen on them would be chosen on what it is judged on. batch_mode: the
    protocol of those scores (train_scores-isolated.csv for 'isolated'), the one the report's images are scored in."""
    cache = _cache_name(batch_mode)
    if diag.reference_changed:                # an unlabelled run's pile that changed: only the trained-on scores
        return (diag.trained, f"{cache}: the images the run was trained on") if diag.trained else None
    if diag.reference_cached:
        return diag.reference, cache
    if diag.reference is not None:            # an unlabelled run's pile, all of it scored to rank it
        return diag.reference, ("scored by this report, in the batches score --threshold uses" if batch_mode == "mixed"
                                else "scored by this report, each image alone, as score --batch-mode isolated "
                                     "--threshold scores them")
    if "cache" not in read:
        # (kept for the row of fit's own threshold, taken from the same cache: read again, it would name the files
        # it leaves out a second time)
        read["cache"] = read_train_scores(run_dir, model, batch_mode, skip_bad=skip_bad)
    cached = read["cache"]
    return (cached, cache) if cached else None


def _detector_threshold_section(page: _Page, run_dir: Path, model: Any, cfg: Any, score: str,
                                read: dict[str, Any], batch_mode: str = "mixed", skip_bad: bool = False,
                                n_train: Any = None) -> Threshold | None:
    """The threshold section of a Detector.fit run on in-memory images: the rules of `wildgan score --threshold`
    from the cached training scores (train_scores.csv: fit's, or a later scoring's, which its key does not tell), and
    the threshold the Detector's predict used when fit returned, taken again from the same cache by the rule fit
    recorded (thresholds.FIT_THRESHOLD_FILE). No test images: only the training images each flags. Returns
    _threshold_section's rule for an is_anomaly column (FLAG_HEADER).
    skip_bad: a cache that leaves out files unreadable since training (`wildgan score --threshold --skip-bad`
    wrote it) is read too, as `score --threshold --skip-bad` and from_run(skip_bad=True) read it: the page said
    there were no training scores, and advised the command that had written them. n_train: the images fit trained
    on (split.json), which such a cache has fewer of."""
    cached = read["cache"] if "cache" in read else read_train_scores(run_dir, model, batch_mode, skip_bad=skip_bad)
    name = pick_score(cached, score) if cached else score
    short = isinstance(n_train, int) and bool(cached) and len(cached[name]) < n_train
    train = (cached, f"{_cache_name(batch_mode)}: {len(cached[name])} of the {n_train} images fit trained on, the "
                     f"others left out as unreadable when they were scored" if short else
             _cache_name(batch_mode)) if cached else None
    return _threshold_section(page, None, cfg, score, train, unlabelled=True,
                              fitted=_fit_rule(run_dir, model, name, batch_mode, skip_bad, cached), detector=True,
                              batch_mode=batch_mode, left_out=_unread_left_out(run_dir, model, batch_mode, skip_bad),
                              recorded=_command_rule(run_dir, model), skip_bad=skip_bad)


def _record_pixels_advice(run: str, method: str, opts: str = "") -> str:
    """What makes a threshold of a run whose training images only decode otherwise since training: a resume of the
    finished run records their pixels as they decode now (split.json) and, but for latent search, whose training never
    scores its training images (a search per image), scores them. run: the run as one word of those commands
    (errors.shell_word of its path), or RUN. opts: the report's options of its `wildgan score` commands
    (_score_options): without them the search cached the scores of another protocol, or stopped at a file the
    report left out as unreadable, and the report named its threshold as of its own score."""
    resume = (f"`wildgan train --out {run} --resume --train-scores` of the finished run records the pixels as they "
              f"decode now")
    if method == "search":
        # (no parenthesis: the warnings say the advice after one of their own)
        return (f"{resume}; a latent-search run's training does not score them: `wildgan score {run}{opts} "
                f"--threshold contamination --out scores.csv` then searches them once and caches them")
    if method == "wildgan" and " --batch-mode isolated" in opts:
        # the resume caches the mixed protocol's training scores: an isolated report's threshold needs the isolated
        # protocol's, which a scoring of that protocol with --threshold computes and caches
        return (f"{resume}, and scores them in the mixed protocol; `wildgan score {run}{opts} --threshold "
                f"contamination --out scores.csv` then scores them in the isolated one, which this report thresholds "
                f"by, and caches them")
    return f"{resume}, and scores them"


def _score_options(name: str, cfg: Any, batch_mode: str = "mixed", skip_bad: bool = False) -> str:
    """The options that make the `wildgan score` commands the page names score and threshold as this report does:
    ' --score NAME' where the report's score is not the command's default (the method's own), ' --batch-mode
    isolated' for an isolated report, ' --skip-bad' for a report with skip_bad; '' for none. Without them the command
    the reader is told flags the images thresholds another score, or mixed-batch scores: other thresholds,
    percentiles and flags than the page's; or, without --skip-bad, stops at the file the report left out as
    unreadable (and does not read training scores cached without it)."""
    return ((f" --score {name}" if name != own_score(cfg.method) else "")
            + (" --batch-mode isolated" if batch_mode == "isolated" else "")
            + (" --skip-bad" if skip_bad else ""))


def _command_rule(run_dir: Path, model: Any) -> tuple[str, float] | None:
    """(rule, its c or k) of Detector.fit's record where `wildgan score RUN --threshold RULE` takes it instead of its
    default: a contamination or mad record of these networks, whatever the score and protocol (thresholds.
    fit_record_param, the command's own rule, and Detector.from_run's); None otherwise (no record, an f1 one, one of
    other networks, or one that cannot be read, which the command warns about and replaces by its default)."""
    got = read_fit_threshold(run_dir)
    if got is None or got[0].rule not in ("contamination", "mad"):
        return None
    try:
        value, _ = fit_record_param(run_dir, got[0].rule, model.meta.get("sha256"))
    except (OSError, ConfigError):
        return None
    return None if value is None else (got[0].rule, value)


def _fit_rule(run_dir: Path, model: Any, name: str, batch_mode: str = "mixed", skip_bad: bool = False,
              cached: dict[str, np.ndarray] | None = None
              ) -> tuple[tuple[str, Threshold, np.ndarray, str] | None, str]:
    """(the row of the threshold Detector.fit recorded: its label, the threshold taken again from the run's cached
    training scores of the score and protocol it was fitted on, those scores, that protocol (batch_mode); or None),
    and a sentence for the page ('' without a record). The value is what the Detector's predict compared scores with
    when fit returned. batch_mode: the report's protocol; the row's label names fit's where it is another. skip_bad,
    cached: see _detector_threshold_section (cached: the report's protocol's cache as it read it, not read again,
    which would say its left-out files a second time)."""
    got = read_fit_threshold(run_dir)
    if got is None:
        return None, ""
    thr, rec = got
    fitted = thr.params.get("score", name)
    if rec.get("weights_sha256") != model.meta.get("sha256"):
        return None, (f"Detector.fit recorded its threshold ({FIT_THRESHOLD_FILE}) for other networks than these "
                      f"(the run was trained on since): it is not shown.")
    if fitted != name:
        # (the report's other options with it: pasted without them, it showed other numbers than this page)
        same = ((" --batch-mode isolated" if batch_mode == "isolated" else "") + (" --skip-bad" if skip_bad else "")
                + (" --image FILES" if _NAMES_IMAGES.get() else ""))
        return None, (f"The Detector that fit this run thresholds {fitted}, not {name} ({FIT_THRESHOLD_FILE}): "
                      f"`wildgan report RUN --score {fitted}{same}` shows its threshold among these rules.")
    mode = str(rec.get("batch_mode", "mixed"))
    scores = cached if cached is not None and mode == batch_mode else \
        read_train_scores(run_dir, model, mode, skip_bad=skip_bad)
    left = 0
    if (not scores or name not in scores) and thr.rule == "f1" and not (skip_bad or model.cfg.data.skip_bad):
        # fit's f1 value is fixed (chosen on a validation set the run does not keep): the cache is read only as
        # evidence that these networks' scores under fit's settings are still there, and for the training images
        # the row counts flagged, which a cache written with skip_bad holds too, as Detector.from_run reads it
        # (detector._recorded_f1). Read with the report's skip_bad, the row was left out as "missing or no longer of
        # these networks' scoring", which it is not. Quietly: the read above said what was wrong with the cache
        scores = read_train_scores(run_dir, model, mode, skip_bad=True, say=False)
        left = len(cache_left_out(run_dir, model, mode) or []) if scores else 0
    if not scores or name not in scores:
        return None, (f"The Detector's threshold ({FIT_THRESHOLD_FILE}) is not shown: the {mode} protocol's "
                      f"training scores it was taken from are missing or no longer of these networks' scoring.")
    own = np.asarray(scores[name], dtype=np.float64)
    if thr.rule == "f1":
        # chosen on the validation set given to fit, which the run does not keep: the recorded value itself
        row, label = thr, "f1 on fit's validation set"
    else:
        try:
            row = fit_threshold(thr.rule, own, k=float(thr.params.get("k", DEFAULT_MAD_K)),
                                contamination=float(thr.params.get("contamination", DEFAULT_CONTAMINATION)))
        except DataError:
            # NaN training scores (diverged networks): the section says so for every rule, this one included
            return None, ""
        label = (f"contamination, c = {row.params['contamination']:g}" if thr.rule == "contamination"
                 else f"mad, k = {row.params['k']:g}")
    how = f", {mode} protocol" if mode != batch_mode else ""
    # (its training images flagged are counted among fewer than the other rows' where its cache leaves files out)
    opt, s = skip_bad_option(), "s" if left != 1 else ""
    fewer = (f" Its training images flagged are counted among the {len(own)} whose scores {_cache_name(mode)} "
             f"holds: computed with {opt}, which left out {left} file{s} unreadable by then." if left else "")
    # where the value comes from, by rule: a contamination or mad threshold is computed again from the training
    # scores; an f1 one is fit's value as recorded (the scores only count the training images it flags), which "taken
    # again from the training scores" denied
    of_mode = f" of its {mode} protocol" if how else ""
    came = (f": the value fit chose on the validation set it was given, shown as recorded since the run does not "
            f"keep that set; the training scores{of_mode} only count the training images it flags" if thr.rule == "f1"
            else
            f" and taken again from the training scores{of_mode}")
    return (f"Detector.fit's: {label}{how}", row, own, mode), (
        f"The last row is the threshold of the Detector that fit this run (recorded by fit in {FIT_THRESHOLD_FILE}"
        f"{came}): what its predict flags, and the rule Detector.from_run(RUN) thresholds by unless given another. "
        f"A threshold chosen after fit (set_threshold, set_params) is not written to the run: the Detector holds it "
        f"(threshold_), and det.save keeps it.{fewer}")


def _no_threshold_text(cfg: Any, name: str, detector: bool, n_train: Any = None, n_test: Any = None,
                       batch_mode: str = "mixed", skip_bad: bool = False) -> str:
    """Why the Threshold section has no threshold, and how to get one: in the words of the kind of run (a
    Detector.fit run cannot rebuild its images; a search run's training scores cost a latent search per image).
    batch_mode: the protocol whose cache is missing, which the command given makes (score --batch-mode isolated).
    skip_bad: the report's, which the command given takes too (_score_options)."""
    # (a run without test images, a Detector.fit or unlabelled one: "never from the test images" denied using what is
    # not there; n_test None)
    never = ("Thresholds come from the training images' scores only, never from the test images" if n_test is not None
             else "Thresholds come from the training images' scores (this run has no test images)")
    # a fit on a folder or a data-set file recorded its path: `wildgan score` reads its images again (in fit's order,
    # checked against split.json) for the training scores; one on in-memory images recorded none
    fit_on = cfg.data.data if detector else None
    again = (f" from {md_escape(str(fit_on))}, the images fit read (IMAGES: any images to score)" if fit_on else "")
    # (a report by another score than the method's own: the command that then thresholds that score, as the page would)
    sc = _score_options(name, cfg, skip_bad=skip_bad)
    if batch_mode == "isolated":
        # (a wildgan run: the other methods have one protocol, run_report falls back to mixed for them)
        return (f"No threshold: this run has no training scores of {name} for these networks scored each image "
                f"alone (train_scores-isolated.csv, not used once the networks, the scoring rules or the score "
                f"settings changed). {never}: `wildgan score RUN{' --data IMAGES' if fit_on else ''}{sc} --batch-mode "
                f"isolated --threshold contamination --out scores.csv` computes and caches them{again}"
                + (" (a Detector.fit run on in-memory images cannot rebuild them: Detector(batch_mode='isolated')"
                   ".fit writes them)" if detector and not fit_on else "") + "; run the report again after it.")
    if fit_on:
        return (f"No threshold: this run has no training scores of {name} for these networks (Detector.fit writes "
                f"them to train_scores.csv, which is not used once the networks, the scoring rules or the score "
                f"settings changed). {never}: `wildgan score RUN --data IMAGES{sc} --threshold contamination --out "
                f"scores.csv` computes and caches them{again}; run the report again after it.")
    if detector:
        return (f"No threshold: this run has no training scores of {name} for these networks (Detector.fit writes "
                f"them to train_scores.csv, which is not used once the networks, the scoring rules or the score "
                f"settings changed, and its in-memory training images cannot be rebuilt from the run to score them "
                f"again). {never}: fit the Detector again, or keep a fitted one with det.save, which keeps its "
                f"threshold.")
    if cfg.method == "search":
        # not left to look like an oversight: training leaves the cache out on purpose, for its cost
        steps = cfg.search.steps
        many = (f" of its {n_train} training images, {n_train / n_test:.3g} times the search of its {n_test} test "
                f"images that `wildgan evaluate` did (once more for the controls)"
                if isinstance(n_train, int) and isinstance(n_test, int) and n_test else " of its training images")
        each = f"{steps} Adam step{'s' if steps != 1 else ''} through G and D"
        return (f"No threshold: this latent-search run has no training scores of {name} for these networks. Its "
                f"training does not score its training images, on purpose: a score is an optimisation of a latent "
                f"per image ({each}), so the scores cost a search{many}, which for a "
                f"short run takes far longer than the training itself. {never}: `wildgan score RUN{sc} --threshold "
                f"contamination --out scores.csv` searches them once and caches them in train_scores.csv; run the "
                f"report again after it.")
    return (f"No threshold: this run has no training scores of {name} for these networks (train_scores.csv is "
            f"not written by `train --no-train-scores`, nor by a search run's training or a study's cells, and is "
            f"not used once the networks, the scoring rules or the score settings changed). {never}: `wildgan score "
            f"RUN{sc} --threshold contamination --out scores.csv` computes and caches them; run the report again after "
            f"it.")


def _threshold_section(page: _Page, diag: RunDiagnostics | None, cfg: Any, score: str,
                       train: tuple[dict[str, np.ndarray], str] | None, unlabelled: bool = False,
                       fitted: tuple[tuple[str, Threshold, np.ndarray, str] | None, str] = (None, ""),
                       detector: bool = False, n_train: Any = None, batch_mode: str = "mixed",
                       left_out: int = 0, recorded: tuple[str, float] | None = None,
                       skip_bad: bool = False, rounded: tuple[int, int] | None = None) -> Threshold | None:
    """Which images `wildgan score --threshold` would flag, and by what rule: the thresholds of its rules for the
    report's score, from the training images' scores (`train`: _training_scores), with how many test and training images
    each flags. Returns the rule the top-k table's and the named images' is_anomaly columns (FLAG_HEADER) use: that of
    `wildgan score RUN --threshold RULE` for this run, i.e. Detector.fit's recorded rule and c (k) where the command
    takes them (`recorded`: _command_rule; its params' param_from says so), else contamination at its default c (the
    Detector's default rule); None where the run has no training scores to take one from. diag None: no test images (a
    Detector.fit run, `detector`); fitted: _fit_rule's row of the Detector's own threshold, and its sentence. n_train:
    how many training images the run has (split.json), for the text of a run without scores. batch_mode: the protocol
    the report's images are scored in, of the training scores in `train` too. left_out: the files left out by the
    protocol's cache where the report did not read it for want of skip_bad (_unread_left_out). skip_bad: the report's,
    which the commands named take too (_score_options). rounded: the run's (normal, anomalous) training images where
    rounding made its share of anomalies other than the γ asked (data.splits.rounded_contamination): the run's own
    row is of that share, as `wildgan score --threshold`'s line advises it, not of γ."""
    name = pick_score(diag.scores if diag is not None else (train[0] if train else {score: None}), score)
    page.h(2, "Threshold")
    # an unlabelled run's diag holds its training pile: neither it nor a Detector.fit run has test images
    n_test = None if diag is None or unlabelled else len(diag.y)
    cache = _cache_name(batch_mode)
    if train is None and left_out:
        # the scores are there, of the images the run was trained on whatever its data became since: the command
        # that computes them anew (or restoring the data) would fail on the same unreadable files, or is not needed
        changed = ("" if diag is None or not diag.reference_changed else
                   f"the run's training images decode otherwise than when it was trained ({diag.decoded_apart}), and "
                   if diag.decoded_apart else
                   "the run's data changed since it was trained (a warning said what changed), and ")
        page.p(f"No threshold: {changed}"
               + _left_out_text(name, cache, left_out, batch_mode,
                                "of the images it was trained on" if changed else "for these networks",
                                _other_score(name, cfg))
               + ".")
        return None
    if train is None and diag is not None and diag.reference_changed and diag.decoded_apart:
        # the same files decoded a level or so apart: restoring the data is not what to do
        advice = _record_pixels_advice("RUN", cfg.method, _score_options(name, cfg, batch_mode, skip_bad))
        page.p(f"No threshold: the run's training images decode otherwise than when it was trained ("
               f"{diag.decoded_apart}), and no training scores of {name} of the pixels it was trained on are cached "
               f"({cache}). {advice}; run the report again after it.")
        return None
    if train is None and diag is not None and diag.reference_changed:
        page.p(f"No threshold: the run's data changed since it was trained (a warning said what changed), and no "
               f"training scores of {name} of the images it was trained on are cached ({cache}). Thresholds "
               f"come from the images a run was trained on, not from others (here maybe the very images ranked): "
               f"restore the data as it was, or train a run on it as it is now.")
        return None
    if train is None or name not in train[0]:
        page.p(_no_threshold_text(cfg, name, detector, n_train, n_test, batch_mode, skip_bad))
        return None
    scores, source = train
    rules: list[tuple[str, dict[str, float], str]] = [
        ("contamination", {"contamination": DEFAULT_CONTAMINATION}, f"contamination, c = {DEFAULT_CONTAMINATION:g}"),
        ("mad", {"k": DEFAULT_MAD_K}, f"mad, k = {DEFAULT_MAD_K:g}")]
    gamma = float(cfg.data.contamination)
    # the share of anomalies the run's training images hold: γ, or where rounding made it another (γ 0.08 of 16
    # normal images is 1 of 17, 0.0588; 0.05 of 16 is none), that share. The row was of γ, which score's threshold
    # line no longer advised for such a run (its "--expected-contamination 0.0588" matched no row here), and a run
    # trained on none had a row flagging a share of clean images as its contamination
    held = gamma if rounded is None else rounded_share(rounded) if rounded[1] else 0.0
    trained = ""
    if not unlabelled and rounded is not None:
        n_n, n_a = rounded
        trained = (f"; this run asked for γ = {gamma:g} of anomalies, which rounding made "
                   + (f"{n_a} of its {n_n + n_a} training images, a share of {held:g}" if n_a else
                      f"none beside its {n_n} normal training images: they are clean"))
    if not unlabelled and 0 < held <= 0.5 and held != DEFAULT_CONTAMINATION:
        # the run's own contamination, known for a labelled run: --expected-contamination GAMMA gives it
        rules.append(("contamination", {"contamination": held}, f"contamination, c = γ = {gamma:g}"
                      if rounded is None else f"contamination, c = {held:g}, the share trained on"))
    try:
        thrs = [fit_threshold(rule, scores[name], **kw) for rule, kw, _ in rules]
    except DataError as e:           # NaN training scores (diverged networks): no rule takes a threshold from them
        page.note(f"No threshold: {md_escape(e)}.")
        return None
    n_train = len(scores[name])
    row, said = fitted

    def flagged(s: np.ndarray, thr: Threshold) -> np.ndarray:
        return np.isnan(s) | (s > thr.value)   # NaN as the most anomalous, as Threshold.apply (without its warning)

    def count(f: np.ndarray) -> str:
        return f"{int(f.sum())} of {len(f)} ({f.mean():.1%})" if len(f) else "-"

    # (an isolated report's thresholds are those of `score --batch-mode isolated --threshold`: the plain command takes
    # the mixed training scores, other numbers; a report by another score than the method's own, `--score NAME`)
    opts = _score_options(name, cfg, batch_mode, skip_bad)
    # the rule the 'flagged' columns use: the named command's for this run. Detector.fit's recorded c (k) is what
    # `wildgan score RUN --threshold RULE` takes without --expected-contamination (--mad-k), fitted again on this
    # score's and protocol's training scores (thresholds.fit_record_apart), as Detector.from_run(RUN) does: flags by
    # the default c beside it differed from the command's, and from the Detector's predict, without a word
    flag = thrs[0]
    if recorded is not None:
        rule, v = recorded
        flag = fit_threshold(rule, scores[name], **({"contamination": v} if rule == "contamination" else {"k": v}))
        flag.params["param_from"] = f"Detector.fit's record, {FIT_THRESHOLD_FILE}"
    page.p(f"An image is flagged when its {name} is above the threshold. These are the thresholds of `wildgan score "
           f"RUN{opts} --threshold contamination|mad` (defaults c = {DEFAULT_CONTAMINATION:g}, "
           f"k = {DEFAULT_MAD_K:g}"
           + (f"; c = {gamma:g} is the run's training contamination γ, `--expected-contamination {gamma:g}`"
              if len(rules) > 2 and rounded is None else "")
           + (f"{trained} (`--expected-contamination {held:g}`"
              + (", the first rule" if held == DEFAULT_CONTAMINATION else "") + ")" if trained and held > 0 else
              trained)
           + f"), taken from the {n_train} training images' scores ({source}), "
           + ("never from the test images" if n_test is not None else
              "the only images of this run (it has no test images; new images are set against these thresholds)")
           + ": contamination = the 100·(1 − c) percentile of those scores, mad = their median + k·1.4826·MAD."
           + ("" if diag is None or recorded is not None else
              " 'flagged' in the table of the most anomalous images: the first rule."))
    if recorded is not None:
        rule, v = recorded
        letter = "c" if rule == "contamination" else "k"
        option = "--expected-contamination" if rule == "contamination" else "--mad-k"
        flags = flagged(np.asarray(scores[name], dtype=np.float64), flag)
        page.p(f"For this run, `wildgan score RUN{opts} --threshold {rule}` takes Detector.fit's recorded {letter} = "
               f"{v:g} ({FIT_THRESHOLD_FILE}) where {option} is not given, as Detector.from_run(RUN) does: its "
               f"threshold on {name} is {flag.value:.6g}, which flags {count(flags)} training images. "
               + ("The 'flagged' columns (the table of the most anomalous images, the images named with --image) "
                  "are by it." if diag is not None else "The named images' 'flagged' column is by it."))
    if said:
        page.p(said)
    if row is not None and row[1].rule == "f1":
        # the page showed fit's f1 row as what from_run thresholds by, and flagged by c = 0.05 without saying which
        # of the two its flags were: the command's (`score --threshold` has no f1 rule and no labels to choose one)
        columns = "do this page's 'flagged' columns" if diag is not None else "does this page's 'flagged' column"
        page.p(f"`wildgan score RUN{opts} --threshold contamination` flags by the first rule (contamination, "
               f"c = {DEFAULT_CONTAMINATION:g}), and so {columns}: not by fit's f1 threshold (the last row), which "
               f"the command does not take, since it chooses thresholds from the training scores alone and the run "
               f"does not keep the labelled validation set fit chose that value on; Detector.from_run(RUN).predict "
               f"flags by it.")

    own = [(label, thr, np.asarray(scores[name], dtype=np.float64), batch_mode)
           for thr, (_, _, label) in zip(thrs, rules)]
    rows = []
    for label, thr, among, mode in own + ([row] if row is not None else []):
        cells: list[Any] = [label, f"{thr.value:.6g}"]
        if not unlabelled and diag is not None and mode != batch_mode:
            # a threshold of isolated scores set against the test images' mixed-batch scores (or the other way round)
            # counted other images than the Detector's predict flags: not counted
            how = "in mixed batches" if batch_mode == "mixed" else "each alone (isolated)"
            cells.append(f"– (the test images were scored {how}, this threshold is of {mode} scores)")
        elif not unlabelled and diag is not None:
            f = flagged(np.asarray(diag.scores[name], dtype=np.float64), thr)
            cells.append(f"{count(f)}; {int(f[diag.y == 1].sum())} of the {int((diag.y == 1).sum())} anomalies")
        rows.append(cells + [count(flagged(among, thr))])
    page.table(["rule", f"threshold on {name}", *([] if unlabelled else ["test images flagged"]),
                "training images flagged"], rows)
    return flag


def _coarse_map_text(lod: float, r: int) -> str:
    """' The networks stopped at lod L: ...' for the maps of networks scored below full growth (lod > 0), else ''.
    The maps are computed as L_n is (heatmaps.residual_maps), at the scored SxS on queries reduced and faded as the
    networks see them, and drawn enlarged to R x R: a reader must know that a block is one scored pixel."""
    if lod <= 0:
        return ""
    b = map_block(lod)
    s, t = r // b, lod - int(lod)                          # (lod > 0: int is floor)
    fade = f" and blended with its {s // 2}x{s // 2} version at weight {t:g} as in the fade-in" if t else ""
    shown = (f", and drawn enlarged to {r}x{r} by nearest neighbour: each {b}x{b} block is one scored pixel, and "
             f"the reconstruction is enlarged the same way" if b > 1 else "")
    # (in the last fade-in, 0 < lod < 1, the query keeps its size: it is blended, not reduced)
    query = f"the query reduced to {s}x{s}" if b > 1 else f"the {r}x{r} query"
    return (f" The networks stopped at lod {lod:g} and are scored at {s}x{s}: each map is computed as L_n is, from "
            f"{query}{fade} against the {s}x{s} reconstruction{shown}.")


def _why_text(scores: dict[str, np.ndarray], lam: float, what: str, code: str = "E(Q)", *,
              lead: str = "Why these images", table: str | None = None) -> str | None:
    """What drives the ranking by a = lam * L_n + (1 - lam) * L_o over these images, in words: the heat maps show
    the residual (the L_n part) only, which with lam = 0.05 usually moves a far less than ||E(Q)|| (the latent's
    norm, `code`: z* for a search run) does. lead: the paragraph's first words; table: what the table beside it
    gives (default: the top-k table's two terms and the norm with its percentile)."""
    if not all(k in scores for k in ("a", "L_n", "L_o")):
        return None
    ln, lo = np.asarray(scores["L_n"], dtype=np.float64), np.asarray(scores["L_o"], dtype=np.float64)
    # over the images whose terms are finite: one diverged image (a NaN score) made both shares 'nan%'
    ok = np.isfinite(ln) & np.isfinite(lo)
    n = int(ok.sum())
    if n < 2:
        return None
    sn, so = float(np.std(lam * ln[ok])), float(np.std((1 - lam) * lo[ok]))
    if sn + so <= 0:
        return None
    share = so / (sn + so)
    table = f"both terms and ‖{code}‖ with its percentile" if table is None else table
    over = f"{n} {what} images" if n == len(ok) else f"{n} of the {len(ok)} {what} images whose scores are finite"
    return (f"{lead}: a = {lam:g}·L_n + {1 - lam:g}·L_o. Over the {over}, "
            f"{share:.1%} of the spread of a (standard deviations of the two terms) comes from L_o = "
            f"-‖{code}‖/√N_z, i.e. from how close the image's code lies to the origin, and {1 - share:.1%} "
            f"from L_n, the residual the heat maps show. The table gives {table}; a map that looks clean with a "
            f"high a means the "
            f"{'encoder' if code == 'E(Q)' else 'latent search'}, not the reconstruction, found the image "
            f"unusual. To rank by what the maps show, use --score L_n or L_r.")


def _generator(cfg: Any) -> str:
    """The generator whose reconstructions the run's scores (and heat maps) use."""
    # f-AnoGAN has one generator, G (no EMA copy): its reconstructions are G(E(Q))
    return "G" if cfg.method == "fanogan" else cfg.score.generator


def _latent_code(cfg: Any) -> str:
    """What the run's latents are called: E(Q), or z* for a search run, which has no encoder (its latents are
    searched per query)."""
    return "z*" if cfg.method == "search" else "E(Q)"


def _heatmap_png(path: Path, image: np.ndarray, heat: np.ndarray, recon: np.ndarray | None, title: str,
                 vmax: float | None = None, gen: str = "G", code: str = "E(Q)", block: int = 1) -> Path:
    """One heat-map panel (query | reconstruction | map) at `path`; block: heatmaps.map_block of the scored lod."""
    from . import plots  # matplotlib only when a picture is drawn

    return plots.heatmap_panel(path, image, heat, recon, title, vmax=vmax, recon_title=f"reconstruction {gen}({code})",
                               gen=gen, code=code, block=block)


def _training_sections(page: _Page, out: Path, run_dir: Path) -> None:
    """The training curves (stats.jsonl) and a few of the sample grids, copied into the report. The lines of
    stats.jsonl left out of the curves are named on the page as on the terminal: the page is what is kept and sent
    on, and curves drawn without a damaged log's lines are not to pass for the whole log."""
    log_file = run_dir / "stats.jsonl"
    rows, bad = checked_lines(log_file, line_problem)
    if rows or bad:
        page.h(2, "Training")
    if bad:
        # the same words twice, the file named on the page in the run directory (_page_path), on the console as given
        page.note(left_out_text(Path(_page_path(log_file, run_dir)), bad, NOT_JSON_OBJECTS), plain=True)
        warn_user(left_out_text(log_file, bad, NOT_JSON_OBJECTS))
    if rows:
        from . import plots  # matplotlib: this section draws

        # (the dotted lines were explained nowhere: the caption says what they mark, the figure labels each)
        page.img(plots.training_curves(out / "training_curves.png", rows), "training curves from stats.jsonl; "
                 "dotted lines: the resolution grows to the size written beside each (its fade-in starts)")
    grids = _sample_grids(run_dir)
    if grids:
        page.h(2, "Generated samples")
        (out / "samples").mkdir(exist_ok=True)
        for g in grids:
            copy = out / "samples" / g.name       # inside report/: report.md stays valid when report/ is copied
            shutil.copyfile(g, copy)
            page.img(copy, f"Gs samples after {_grid_kimg(g)}", width=480)


def _sample_grids(run_dir: Path, keep: int = 4) -> list[Path]:
    """Up to `keep` of the training's sample grids, evenly spaced over training, always including the last."""
    files = sorted((run_dir / "samples").glob("fakes-*.png"))
    if len(files) <= keep:
        return files
    idx = sorted({int(round(i)) for i in np.linspace(0, len(files) - 1, keep)})
    return [files[i] for i in idx]


def _grid_kimg(grid: Path) -> str:
    """'fakes-000000.320kimg.png' (or the older 'fakes-000050kimg.png') -> '0.32 kimg'."""
    stem = grid.stem.removeprefix("fakes-").removesuffix("kimg")
    try:
        return f"{kimg_to_the_image(float(stem))} kimg"
    except (ValueError, OverflowError):        # (a name that is no number, or nan / inf)
        return stem


def _named_reference(run_dir: Path, model: Any, diag: RunDiagnostics | None, unlabelled: bool,
                     skip_bad: bool = False, read: dict[str, Any] | None = None, batch_mode: str = "mixed"
                     ) -> tuple[dict[str, np.ndarray], str] | None:
    """(the scores the named images' percentiles are taken among, which images those are), or None.

    Named images are ranked like `wildgan score`'s train_percentile: among the training images, from the run's
    cached training scores when they match these weights and protocol (never a stale cache); else among the images
    this report scored (its test split, or all the training images of an unlabelled run). A cache that leaves
    unreadable training files out (score --threshold --skip-bad) is used only with skip_bad, as score uses it.
    read: {"cache": that cache} where it was read already (with the rebuilt split: see _write_run_report).
    batch_mode: the protocol of the cache read, the named images' own (run_report)."""
    # (read once: an unlabelled run's ranking that took the cache, or the rebuild of a labelled run's split, has said
    # what it leaves out)
    if diag is not None and diag.reference_cached:
        cached = diag.reference
    elif read and "cache" in read:
        cached = read["cache"]
    else:
        cached = read_train_scores(run_dir, model, batch_mode, skip_bad=skip_bad)
    if cached:
        return cached, "training"
    if diag is not None and diag.scores:
        return diag.ref_scores, "training" if unlabelled else "test"
    return None


def _score_named(model: Any, images: Sequence[str | Path], loaded: tuple[np.ndarray, list[str], list[int], int],
                 score: str, log: Log, progress: bool, batch_mode: str = "mixed") -> NamedImages:
    """The images named with --image (`loaded`: as load_image_files read `images`), scored in `batch_mode` and ranked
    by `score`, the MAX_NAMED_MAPS first mapped (score_named_images)."""
    log(f"scoring the named images ({len(images)} path{'s' if len(images) != 1 else ''})")
    named = score_named_images(model, images, rank_by=score, max_maps=MAX_NAMED_MAPS, progress=progress,
                               loaded=loaded, batch_mode=batch_mode, log=log)
    # the ids `wildgan score --data` writes for the same paths (one folder: relative to it), so that
    # named_images.csv joins with its CSV
    named.ids = ids_under_folder(named.ids, images)
    log(f"scored {len(named.ids)} named image{'s' if len(named.ids) != 1 else ''} (from {len(images)} "
        f"path{'s' if len(images) != 1 else ''})")
    return named


def _named_section(page: _Page, out: Path, model: Any, named: NamedImages, score: str,
                   ref: tuple[dict[str, np.ndarray], str] | None = None, thr: Threshold | None = None,
                   batch_mode: str = "mixed", skip_bad: bool = False) -> None:
    """The images named with --image, most anomalous first (`named`, _score_named): their scores with their
    percentiles among `ref` (the scores, and which images they are of), whether `thr` (the Threshold section's
    rule of `wildgan score --threshold`, of the training scores) flags them, heat maps of the MAX_NAMED_MAPS first,
    and named_images.csv. batch_mode: the protocol they were scored in, which the commands named must give, as they
    must give the report's skip_bad."""
    name = pick_score(named.scores, score)
    page.h(2, "Named images")
    n, m = len(named.ids), len(named.maps)
    if m < n:
        # a folder of thousands: a panel each made a report of hundreds of MB; the most anomalous are what to look at
        page.p(f"Heat maps of the {m} most anomalous of the {n} named images (by {name}); the table and "
               f"named_images.csv list all {n}, most anomalous first.")
    gen, code = _generator(model.cfg), _latent_code(model.cfg)
    from . import plots  # matplotlib: this section draws

    vmax = plots.colour_scale(named.maps)
    if m:
        # the named maps share a scale of their own: a reader comparing them with the panels above by colour alone
        # compared two scales (the bars differ, the sentence says so)
        page.p(f"Heat map = |w(Q) - w({gen}({code}))| averaged over channels (w = per-image min-max), beside the "
               f"query; one colour scale for the named images' maps (0 to {vmax:.3g}), not that of any other "
               f"section's maps: compare colours within this section."
               f"{_coarse_map_text(map_lod(model), named.x.shape[1])}")
    ref_scores, among = ref if ref is not None else ({}, "")
    refs = ref_scores.get(name)
    # (the command that scores, ranks and flags these images as the page does: --score and --batch-mode as the report's)
    opts = _score_options(name, model.cfg, batch_mode, skip_bad)
    if refs is not None:
        page.p(f"Percentile: where each image's {name} falls among the run's {len(refs)} {among} images (100 = "
               f"above all of them). `wildgan score RUN --data FILES{opts} --threshold contamination|mad` flags "
               f"images against the training scores.")
    # ranked by a, which part of a made an image rank high is the question the page answers for the top-k images;
    # the named images' table gave L_n and L_o unweighted, so lam (0.05 against 0.95) had to be known from the code
    lam = float(model.cfg.score.lam)
    parts = name == "a" and "L_n" in named.scores and "L_o" in named.scores
    why = _why_text(ref_scores if "a" in ref_scores else named.scores, lam,
                    among if "a" in ref_scores else "named", code, lead="What drives a",
                    table="both terms of each named image") if parts else None
    if why:
        page.p(why)
    rows, shown = [], []
    columns = _score_columns(named.scores)
    width = max(2, len(str(m)))                   # image-01 ... image-50: names that sort like the ranks
    # (the threshold's own score only: a rule on a is no verdict on L_r)
    thr = thr if thr is not None and thr.params.get("score", name) == name else None
    for j, id_ in enumerate(named.ids, start=1):
        exact = _percentile(refs, named.scores[name][j - 1]) if refs is not None else None
        pct = None if exact is None else round(exact, 1)      # as the page says it (caption, table)
        if j <= m:
            # the caption says where the image stands, not only what it is: the panel is what a reader looks at
            where = "" if pct is None else f", percentile {pct:g} among the {among} images"
            png = _heatmap_png(out / "heatmaps" / f"image-{j:0{width}d}.png", named.x[j - 1], named.maps[j - 1],
                                named.recon[j - 1], f"{Path(id_).name}, {name} = {named.scores[name][j - 1]:.4g}",
                                vmax=vmax, gen=gen, code=code, block=map_block(map_lod(model)))
            page.img(png, f"{id_}: {name} = {named.scores[name][j - 1]:.4g}{where}", width=520)
        # (NaN flagged, as the most anomalous, as Threshold.apply does; 1/0 in the CSV, yes/no on the page, as the
        # most anomalous images' table and top_anomalous.csv give it)
        flag = None if thr is None else int(not named.scores[name][j - 1] <= thr.value)
        # (the CSV's percentile written as `wildgan score`'s train_percentile column writes it, 2 decimals: rounded
        # to the page's one decimal, 99.75 there read 99.8 here, for the same image and run)
        row = [id_] + [float(v[j - 1]) for v in columns.values()] + ([f"{exact:.2f}"] if exact is not None else [])
        rows.append(row + ([name] if pct is not None else []) + ([] if flag is None else [flag]))
        # (the percentile as the caption says it, 96 or 94.2: as a float cell it read 96.000 for a value rounded to
        # one decimal)
        # the scores to 4 significant digits, as the captions and the most anomalous images' table give them: at
        # 3 decimals a short run's L_n (0.0057-0.0086) read 0.007 for most images, and two images' a either side of
        # the threshold read alike, one flagged 'yes' and the other 'no'
        cells = [id_, *(f"{v:.4g}" for v in row[1:1 + len(columns)]), *([] if pct is None else [f"{pct:g}"])]
        shown.append(cells + ([] if flag is None else ["yes" if flag else "no"])
                     + ([f"{lam * named.scores['L_n'][j - 1]:.4g}", f"{(1 - lam) * named.scores['L_o'][j - 1]:.4g}"]
                        if parts else []))
    hdr = (["id", *columns] + ([f"{name} percentile among {among} images"] if refs is not None else [])
           + ([] if thr is None else [FLAG_HEADER]))
    # the CSV's columns named as `wildgan score`'s (train_percentile; test_percentile where the percentiles are among
    # the test images; is_anomaly, 0/1, the decision: it was 'flagged' here, so a reader of score's CSV found none),
    # the score they are of in a column of its own (the CSV holds every score); the page's header says both in words
    among_col = "train" if among == "training" else among
    csv_hdr = (["id", *columns] + ([f"{among_col}_percentile", "percentile_score"] if refs is not None else [])
               + ([] if thr is None else ["is_anomaly"]))
    if thr is not None:
        command = f"`wildgan score RUN --data FILES{opts} --threshold {thr.rule}`"
        if "param_from" in thr.params:
            param = (f"c = {thr.params['contamination']:g}" if thr.rule == "contamination" else
                     f"k = {thr.params['k']:g}")
            page.p(f"flagged: {name} above {thr.value:.6g}, the rule Detector.fit recorded ({thr.rule}, {param}; see "
                   f"the Threshold section), as {command} flags them.")
        else:
            page.p(f"flagged: {name} above {thr.value:.6g}, the Threshold section's first rule ({thr.rule}), as "
                   f"{command} flags them.")
    page.table(hdr + [f"{lam:g}·L_n", f"{1 - lam:g}·L_o"] if parts else hdr, shown, literal=[0])
    _write_csv(out / "named_images.csv", csv_hdr, rows)


def _config_text(run_dir: Path) -> str:
    """The run's config as written (config.yaml), or config.json's as YAML-less JSON for a run without one. The
    header's training-images record (one line of JSON, over a thousand characters, for a replay to compare, not for
    reading) is shown as a summary that points to the file: on the page it made the section a block of one long line
    to scroll sideways through."""
    y = run_dir / "config.yaml"
    if y.is_file():
        text = y.read_text(encoding="utf-8")
        record = config_yaml_record(y)
        if record is None:
            return text
        lines = text.splitlines(keepends=True)
        for i, line in enumerate(lines):
            if not line.startswith("#"):
                break
            if line.startswith(HEADER_TRAINED_ON):
                lines[i] = f"{HEADER_TRAINED_ON}{_trained_on_summary(record[1], len(line.rstrip()))}\n"
        return "".join(lines)
    return json.dumps(run_config_to_dict(read_run_config(run_dir)), indent=2)


def _trained_on_summary(trained_on: dict[str, Any], chars: int) -> str:
    """A few words for config.yaml's training-images record: how many images, from where, their pixels' checksum."""
    n, source, pixels = trained_on.get("n_train"), trained_on.get("source"), trained_on.get("train_pixels_sha256")
    said = [f"{n} training images" if isinstance(n, int) else "the training images"]
    if isinstance(source, str):
        # (the sample's own path inside the installation, as split.json keeps it, says less than its name)
        said.append("from the embedded MNIST sample" if is_sample_path(source) else f"from {source}")
    if isinstance(pixels, str):
        said.append(f"(pixels sha256 {pixels[:12]}...)")
    return f"{' '.join(said)}; the whole record, {chars:,} characters of JSON, is in config.yaml"


# ------------------------------------------------------------------------------------------------------------------
# Run report: the numbers (also usable from Python without writing a report)

@dataclass
class RunDiagnostics:
    """Everything the run report shows, computed once (also usable from Python without writing a report)."""

    y: np.ndarray                                  # [N] test labels, 1 = anomaly
    ids: list[str]
    x: np.ndarray                                  # uint8 [N, H, W, C]
    scores: dict[str, np.ndarray]                  # trained model, incl. z_norm
    z: np.ndarray                                  # [N, N_z]
    recon: np.ndarray | None                       # [N, H, W, C] in [-1, 1]
    controls: dict[str, dict[str, np.ndarray]]     # {'untrained': {score: [N]}, 'pixel': {stat: [N]}}
    metrics: dict[str, Any]
    # every score over the images percentiles are taken among, when those are more than the N above (an unlabelled
    # run shows its top k training images, ranked among all of them); None: the N above
    reference: dict[str, np.ndarray] | None = None
    reference_cached: bool = False                 # the reference is the run's training-score cache (read_train_scores)
    # the run's training images changed since training (an unlabelled run's pile, which the reference ranks as it is
    # now; a labelled run's rebuilt training split): they are not those the run was trained on, so the threshold
    # section takes `trained` (their cached scores) or none
    reference_changed: bool = False
    trained: dict[str, np.ndarray] | None = None
    decoded_apart: str | None = None               # where only the decoding changed since: how (splits.decoded_apart)
    # an unlabelled run trained with --rotations: how many rotated copies among the reference's training images were
    # left out of the top images (each file ranked once, by its own image)
    rotated_copies: int = 0

    @property
    def ref_scores(self) -> dict[str, np.ndarray]:
        return self.reference if self.reference is not None else self.scores


def diagnose_run(run_dir: Path, *, device: str = "auto", controls: bool = True, log: Log = _quiet,
                 model: Any = None, skip_bad: bool = False, held: HeldWarning | None = None,
                 join: Callable[[Any], Any] | None = None, progress: bool = False,
                 batch_mode: str = "mixed", score: str | None = None) -> tuple[Any, RunDiagnostics]:
    """Score the run's test split with reconstructions and latents, plus the controls. -> (model, diagnostics).
    model: the run's networks (scoring.run.load_model), when the caller has them; default loaded here. skip_bad:
    unreadable image files are left out of the rebuilt split (those unreadable since training named in a warning)
    instead of stopping the report. held: that warning is held (see split_for_run) while join(model) reads what
    joins it (the report: the cached training scores, returned), then said, before the scoring rather than after it.
    progress: bars while the test split is decoded and scored (the latent search's, for a search run: minutes).
    batch_mode: 'mixed' (evaluate's shuffled batches) or 'isolated' (each image alone, as `score --batch-mode
    isolated`), for the trained networks' scores, the other generator's and the untrained control's alike (a wildgan
    run's; the other methods have one protocol).
    Where the rebuilt training images are not those the run was trained on, the threshold section may take only
    those cached scores (RunDiagnostics.trained), and the warning that the data changed says so. score: the report's,
    which the commands that warning names take (the method's own where None)."""
    refuse_saved_detector(run_dir, "diagnose_run")
    model = model if model is not None else load_model(run_dir, device)
    split = split_for_run(run_dir, skip_bad=skip_bad, held=held, progress=progress)
    recorded = read_split_info(run_dir)
    # (training images added, removed, edited or decoded apart since training; files unreadable since are said apart)
    now = split_summary(split) if recorded else None
    train_changed = bool(recorded) and bool(split_differences(split, recorded, train_only=True, skips_said=True,
                                                               now=now))
    # only the decoding changed (another Pillow / libjpeg, the same files): what to do is not to restore the data
    decoded = decoded_apart(split, recorded, now, skips_said=True) if train_changed else None
    train_cache = None
    if held is not None:
        if join is not None:
            train_cache = join(model)
        if train_changed:
            # as score --threshold's warning says of its threshold: the report's comes from the scores of the images
            # trained on, or there is none (its page said to make them with a `score --threshold` that refuses)
            cache = _cache_name(batch_mode)
            # (the report's options, as its page's commands carry them: score, protocol, skip_bad)
            opts = _score_options(score or own_score(model.cfg.method), model.cfg, batch_mode, skip_bad)
            held.say_change(f"; the report's threshold section comes from {cache}, the cached scores of the "
                            f"training images as {run_dir} was trained on them, not from the data as it is now"
                            if train_cache is not None else
                            "; the report shows no threshold: no scores of the images it was trained on are cached "
                            f"({cache})" + (f"; {_record_pixels_advice(shell_word(run_dir), model.cfg.method, opts)}"
                                                    if decoded else ""))
        held.say()
    y = split.test_y.astype(int)
    log(f"scoring {len(y)} test images with {model.source}")
    cached: dict[str, np.ndarray] | None = None
    if model.cfg.method == "search":
        cached = _search_latents(run_dir, model, split, log)
        if cached is None or (controls and "z_untrained" not in cached):
            # said up front rather than left to look stuck
            twice = (", twice (the untrained networks are searched too; --no-controls skips that)"
                     if controls and cached is None else "")
            log(f"note: latent search optimises a latent per image ({model.cfg.search.steps} steps): this takes "
                f"about as long as the run's evaluation did{twice}")
    res = _search_checked(model, split.test_x, cached, "z", "a", log) if cached is not None else None
    if res is None:
        with progress_label(trained_label(model)):
            res = model.score(split.test_x, return_recon=True, progress=progress, batch_mode=batch_mode)
    trained = _score_columns(res.scores)
    m = evaluate_scores(trained, y)
    metrics: dict[str, Any] = {"auc": m["auc"], "ap": m["ap"], "n_test": int(len(y)), "n_anomalous": int(y.sum()),
                               "model": {"source": model.source, "method": model.cfg.method,
                                         **networks_record(model.meta), "status": model.meta.get("status"),
                                         "lod": model.lod, "versions": model.meta.get("versions"),
                                         "intra_op_threads": model.meta.get("intra_op_threads")}}
    if model.cfg.method == "wildgan":
        # the other generator (raw G when scoring with Gs), as evaluate_model does: shows whether Gs has caught up
        # (named by which it is: "the raw generator too (Gs)" read for a run scored with G)
        other = other_generator(model.cfg.score)
        log(f"scoring with the {'raw generator G' if other == 'G' else 'averaged generator Gs'} too")
        metrics["other_generator"] = other_generator_scores(model, split.test_x, y, progress=progress,
                                                            batch_mode=batch_mode).record()
    ctl: dict[str, dict[str, np.ndarray]] = {}
    if controls:
        log("scoring the controls (untrained networks, pixel statistics)")

        def score_untrained(un_model: Any) -> Any:
            # a search run's untrained latents from the evaluation where they still give its scores, else scored
            # here, in the report's protocol
            un = None
            if cached is not None and "z_untrained" in cached:
                un = _search_checked(un_model, split.test_x, cached, "z_untrained", "a_untrained", log,
                                     return_recon=False)
            return un if un is not None else un_model.score(split.test_x, progress=progress, batch_mode=batch_mode)

        # (evaluate_model's controls, from the one helper both take them from)
        scored = score_controls(model, split.test_x, y, score_untrained)
        ctl["untrained"], ctl["pixel"] = scored.untrained, scored.pixel
        metrics["controls"] = scored.auc
        metrics["controls_ap"] = scored.ap
    metrics.update(auc_uncertainty(trained, y, ctl.get("untrained"), ctl.get("pixel")))    # (as evaluate_model)
    # which anomalous classes each score catches, ranked by the report's score: by_class's table, as evaluate keeps
    # it in eval.json (one AUC over all the anomalies hides a class a score ranks below the normals)
    if split.test_classes is not None and y.any():
        metrics["by_class"] = auc_by_class(
            y, split.test_classes, trained, pick_score(trained, score or own_score(model.cfg.method)),
            controls=control_columns(ctl.get("untrained"), ctl.get("pixel")),
            order=[str(c) for c in split.info.get("class_names") or []])
    if "z_norm" in res.scores and y.min() != y.max():
        zn = res.scores["z_norm"]
        metrics["mean_z_norm"] = mean_latent_norms(zn, y)
    diag = RunDiagnostics(y=y, ids=list(split.test_ids), x=split.test_x, scores=dict(res.scores), z=res.z,
                          recon=res.recon, controls=ctl, metrics=metrics, reference_changed=train_changed,
                          trained=train_cache, decoded_apart=decoded)
    return model, diag


def _search_latents(run_dir: Path, model: Any, split: Any, log: Log) -> dict[str, np.ndarray] | None:
    """The latents the run's evaluation searched for this test split (evaluation.run.SEARCH_CACHE), or None."""
    sc = model.cfg.score
    info = search_info(model.cfg.search, sc.lam, sc.kappa, model.lod, sc.generator)
    whys: list[tuple[bool, str]] = []
    # (an evaluation by an earlier wildgan kept them in the folder it named then, eval-cells.tar.bz2-<hash>: read
    # there too, not searched again)
    for out_dir in evaluation_dirs(run_dir, read_split_info(run_dir), split.info):
        arrays, why = read_search_cache(out_dir, split.test_ids, info, model.nets.G.cfg.latent_size)
        if arrays is not None:
            return arrays
        whys.append(((out_dir / SEARCH_CACHE).is_file(), why))
    # (why a cache that is there cannot be used says more than that another folder holds none)
    log(f"the evaluation's latents are not at hand: {next((w for there, w in whys if there), whys[0][1])}")
    return None


def _search_checked(model: Any, x: np.ndarray, cached: dict[str, np.ndarray], z_key: str, a_key: str,
                    log: Log, return_recon: bool = True) -> Any:
    """The scores (and reconstructions) of cached latents, or None when rescoring them does not give the scores the
    evaluation kept (the networks changed since: the run was trained on, or another checkpoint is scored)."""
    res = model.score(x, return_recon=return_recon, z_star=cached[z_key])
    if np.allclose(res.scores["a"], cached[a_key], rtol=1e-4, atol=1e-6, equal_nan=True):
        which = "the untrained networks'" if "untrained" in z_key else "the trained networks'"
        log(f"latent search: {which} latents from the evaluation, rescored without searching")
        return res
    log("the evaluation's latents do not give its scores with these networks (changed since?): searching again")
    return None


def _diagnose_training_pile(run_dir: Path, cfg: Any, device: str, log: Log, k: int, score: str,
                            model: Any = None, skip_bad: bool = False, batch_mode: str = "mixed",
                            progress: bool = False) -> tuple[Any, RunDiagnostics]:
    """An unlabelled run: rank its own training images by score, and reconstruct only the k highest (a pile can be
    far larger than a test split: all reconstructions would not fit in memory). Labels unknown: -1. batch_mode: the
    protocol the pile is scored in, or its cached scores read of (train_scores-isolated.csv for 'isolated').
    progress: bars while the pile is decoded, and while it is scored (no cache of its scores: thousands of images,
    minutes)."""
    model = model if model is not None else load_model(run_dir, device)
    info = read_split_info(run_dir)
    try:
        # (recorded: the pile's identity is taken from split.json, without reading its bytes again, where its files'
        # listing is the one recorded)
        # (the report's progress choice: tqdm's auto drew the decoding bar on a terminal under --no-progress)
        split = build_split(replace(cfg.data, skip_bad=True) if skip_bad else cfg.data, recorded=info,
                            progress=progress)
    except DataError as e:
        # the images were moved or deleted since training: the ranking needs their pixels, not only the cached scores.
        # What to do in the words evaluate and score use: for a pile gone from its recorded place, the path the run
        # recorded and how to link it back (missing_run_data_error); for one there but unreadable, restore_advice
        gone = missing_run_data_error(cfg.data.data, run_dir)
        raise DataError(f"{gone or e}. The report of a run trained on unlabelled images ranks and maps its training "
                        f"images, read from where they were at training" +
                        ("" if gone else f": {restore_advice(cfg.data.data)}")) from None
    # the training scores cached by train / score --threshold (the same mixed batches, for these very images in
    # this order): a pile of 100k photos is not scored again just to pick its top k; not when the rebuilt split
    # differs from the one recorded at training (e.g. another reader version: the cache would rank pixels that are
    # no longer these) by more than the files skip_bad left out as unreadable since, which a cache of score
    # --threshold --skip-bad leaves out too (read with skip_bad, which names them)
    changed = split_differences(split, info, skips_said=True)
    # only the decoding changed (another Pillow / libjpeg, the same files): what to do is not to restore the pile
    decoded = decoded_apart(split, info, skips_said=True) if changed else None
    trained = None
    if changed:
        # the pile ranked is the images as they are now: said, as evaluate says a rebuilt test split that is not the
        # recorded one. Its threshold does not follow the data (as score --threshold's): it comes from the cached
        # scores of the images the run was trained on, or there is none (other images, maybe the very ones ranked,
        # must not set it)
        trained = read_train_scores(run_dir, model, batch_mode, skip_bad=skip_bad)
        # (cached with skip_bad, unread without it: not "no scores are cached", whose advice would not give them)
        left = _unread_left_out(run_dir, model, batch_mode, skip_bad) if trained is None else 0
        # another file or folder at the recorded place (data.source_identity): which, and where to put the run's
        # pile back, as evaluate and score say it
        replaced = source_replaced(info, split.info)
        opts = _score_options(score, cfg, batch_mode, skip_bad)         # (the report's, as its page's commands)
        warn_user(f"{split.info.get('source') or cfg.data.data} changed since {run_dir} was trained "
                  f"({'; '.join(changed)}): the report ranks the {len(split.train_x)} training images as they are now "
                  f"(split.json: {info.get('n_train', '?')}), and " +
                  (f"its threshold section comes from {_cache_name(batch_mode)}, the cached scores of the images it "
                   "was trained on" if trained is not None else
                   f"shows no threshold: the scores of the images it was trained on cached in "
                   f"{_cache_name(batch_mode)} were computed with {skip_bad_option()}, leaving out {left} file"
                   f"{'s' if left != 1 else ''} unreadable by then, and are read only by "
                   f"{_skip_bad_report_command(batch_mode, run_dir, _other_score(score, cfg))}" if left else
                   "shows no threshold: no scores of the images it was trained on are cached "
                   f"({_cache_name(batch_mode)})" +
                   (f"; {_record_pixels_advice(shell_word(run_dir), cfg.method, opts)}" if decoded else "")) +
                  (f". {replaced}: {restore_advice(split.info.get('source'))}" if replaced else ""))
    scores = None if changed else read_train_scores(run_dir, model, batch_mode, ids=split.train_ids,
                                                    skip_bad=skip_bad)
    z_all, cached = None, scores is not None
    if cached:
        log(f"ranking the {len(split.train_x)} training images by their cached scores ({_cache_name(batch_mode)})")
    else:
        skipped = newly_skipped(split, info, training=True)      # (not a file added since, unreadable)
        if skipped:
            warn_left_out(skipped, f"{run_dir}", len(split.train_x), bool(cfg.data.skip_bad))
        log(f"scoring the {len(split.train_x)} training images with {model.source}")
        # the same batches (or, isolated, each image alone) as training-score thresholds of that protocol use
        # (with the report's progress setting, as its other scorings: a pile of thousands scored isolated is
        # minutes after the line above)
        res = model.score(split.train_x, batch_mode=batch_mode, progress=progress)
        scores, z_all = dict(res.scores), res.z
    # each file of the pile once: the rotated copies a --rotations run trained on (`ID#rotK`) are its augmentation,
    # not files of the user's (they filled the list with turned copies of one cell); ranked by the file's own image.
    # They stay in the reference the percentiles are read against: they are training images
    files = np.asarray([i for i, t in enumerate(split.train_ids) if not is_rotated_copy(t)], dtype=np.int64)
    top = files[top_k(scores[pick_score(scores, score)][files], max(k, 0))]
    # the top images' reconstructions (and latents) from the score batches the ranking scores came from (the pile
    # scored whole in batch_mode, as the cached scores were and as scored above): each image alone, as they were
    # mapped before, gave maps whose L_n differed from the ranked one by up to 9%
    n = len(split.train_x)
    recon, z = (reconstructions_as_scored(model, split.train_x, range(n), n, top, batch_mode, progress=progress,
                                          log=log) if len(top) else (None, None))
    if z_all is not None:
        z = z_all[top]
    return model, RunDiagnostics(y=np.full(len(top), -1), ids=[split.train_ids[i] for i in top],
                                 x=split.train_x[top], scores={kk: v[top] for kk, v in scores.items()},
                                 z=z, recon=recon, controls={}, metrics={},
                                 reference=dict(scores), reference_cached=cached, reference_changed=bool(changed),
                                 trained=trained, decoded_apart=decoded,
                                 rotated_copies=len(split.train_ids) - len(files))


# ------------------------------------------------------------------------------------------------------------------
# Study report

@dataclass(frozen=True)
class StudyScoreView:
    """One score of a study's rows for every method, as `wildgan report STUDY_DIR --score S` shows it: its figures
    (the study's AUC-versus-gamma plot, of that score instead of each method's own) and its tables ((heading,
    header, body): Table 2's lines of that score, with the controls), made from results.jsonl by the studies layer
    (studies.study.score_views: the tables are its), drawn and written here. notes: what the section must say (rows
    left out of it)."""
    score: str
    plots: tuple[GammaPlot, ...]
    tables: tuple[tuple[str, list[str], list[list[str]]], ...]
    notes: tuple[str, ...] = ()


def study_report(study_dir: Path, *, log: Log = _quiet, views: Sequence[StudyScoreView] = ()) -> Path:
    """Write STUDY_DIR/report/{report.html, report.md}: tables.md, the AUC-vs-gamma plot, every result row and
    links to the reports of the study's runs; `views`: a section per chosen score first (StudyScoreView)."""
    study_dir = Path(study_dir)
    with _report_folder(study_dir, log) as out:
        _write_study_report(study_dir, out, views)
    path = study_dir / "report" / "report.html"
    log(f"wrote {path}")
    return path


def _score_view_section(page: _Page, out: Path, view: StudyScoreView) -> None:
    """A StudyScoreView's section: its figures, drawn into `out`, then its tables."""
    from . import plots  # matplotlib: this section draws

    s = view.score
    page.h(2, f"Score {s} for every method")
    page.p(f"ROC AUC of `{s}` for every method against the contamination γ, from results.jsonl (no cell scored "
           f"again): the study's own plot and tables.md show each method's own score (a; f-AnoGAN's A). Controls: "
           f"each method's untrained networks scored by `{s}`, and the pixel statistics of the query, one value per "
           f"seed; mean ± std over seeds. {BAND_NOTE}")
    for text in view.notes:
        page.note(text, plain=True)
    for plot, png in zip(view.plots, plots.gamma_figures(out, view.plots, score=s)):
        page.img(png, f"AUC vs gamma, score {s} for every method" + (f", normal {plot.normal}" if plot.normal else ""),
                 width=720)
    for heading, header, body in view.tables:
        page.h(3, md_escape(heading))          # (plain text naming a normal class: a user's folder name)
        page.table(header, body)


def _write_study_report(study_dir: Path, out: Path, views: Sequence[StudyScoreView] = ()) -> None:
    """study_report's page, written into `out` (the new report's folder, before it replaces STUDY_DIR/report)."""
    results = study_dir / "results.jsonl"
    rows, unread = checked_lines(results, row_problem)
    page = _Page(title=f"wildgan study report: {study_dir.resolve().name}", md_dir=out)
    page.p(f"Study directory: {md_escape(study_dir.resolve())}; {len(rows)} result rows.")
    # the rows listed below are those the study's tables count (the same check: rows.row_problem); a line that is no
    # such row is named, not listed as one of the study's or dropped without a word (a torn last line excepted: a
    # study still writing it, or killed while it did)
    if unread:
        said = left_out_text(results, unread, NOT_STUDY_ROWS,
                             where="of this report and of the study's tables")
        page.note(said, plain=True)
        warn_user(said)
    stale = _stale_tables(study_dir) if rows else None
    if stale:
        page.note(stale)
    scoring = [row_scoring(study_dir, r) for r in rows]
    differ = scoring_differences(scoring)
    if differ:
        page.note(_mixed_scoring_note(len(rows), differ))
    for view in views:              # (first: what the command asked for)
        _score_view_section(page, out, view)
    _tables_section(page, study_dir / "tables.md")
    _plots_section(page, study_dir, out, rows, scoring)
    if rows:
        _rows_section(page, rows, scoring, list(differ))
    _runs_section(page, study_dir, out, rows)
    page.write(out)


def _stale_tables(study_dir: Path) -> str | None:
    """Why tables.md (and the plots beside it) may not count every row of results.jsonl, or None: the study writes
    them after each row, so rows written after them came from elsewhere (appended or merged by hand, or a study of
    an earlier wildgan stopped partway). The report shows tables.md as the study wrote it (the tables are the
    studies layer's, made from the rows by `wildgan study`), so it says when they are older than the rows."""
    tables, results = study_dir / "tables.md", study_dir / "results.jsonl"
    if not tables.is_file():
        return ("This study has no tables.md yet, so the tables with the controls and the paper's numbers are missing "
                "below: run the study command again (its finished cells are skipped) to make them from "
                "results.jsonl.")
    if tables.stat().st_mtime_ns < results.stat().st_mtime_ns:
        return ("tables.md (and the plots) are older than results.jsonl: rows were added since they were made, so "
                "they may not count every row listed below. Run the study command again (its finished cells are "
                "skipped) to re-make them from results.jsonl.")
    return None


def _mixed_scoring_note(n_rows: int, differ: dict[str, dict[str, int]]) -> str:
    """What the report says of rows computed otherwise than each other (rows.scoring_differences)."""
    return (f"The {n_rows} result rows were not all computed alike ({differences_text(differ)}): AUCs of different "
            f"scores are no sample of one number. tables.md (as this wildgan writes it) pools only the rows computed "
            f"as the `wildgan study` command that wrote it computes its cells, and lists the others apart; the rows "
            f"below say what each was computed with. Run the study with all its cells to evaluate them alike.")


def _tables_section(page: _Page, tables: Path) -> None:
    """tables.md as the study wrote it (the tables are the studies layer's, made from the rows by `wildgan study`)."""
    if not tables.is_file():
        return
    # its headings two levels down, under this page's "Tables" (tables.md is a page of its own, with an H1);
    # _md_to_html already moves headings one level down
    lines = tables.read_text(encoding="utf-8").splitlines()

    def down(k: int) -> str:
        return "\n".join("#" * k + ln if ln.startswith("#") else ln for ln in lines)

    page.h(2, "Tables")
    page.raw(_md_to_html(down(1)), down(2) + "\n")


def _plots_section(page: _Page, study_dir: Path, out: Path, rows: list[dict[str, Any]],
                   scoring: list[dict[str, Any]]) -> None:
    """The study's own plots (AUC versus gamma first), or, when the study left none, its figures drawn from the rows
    that its tables pool (rows.tables_pool), as the study draws them (gamma_curves.gamma_plots: the pooled one, and
    one per normal class where there are several); scoring: each row's rows.row_scoring."""
    pngs = list(study_dir.glob("*.png"))
    # the study's figures captioned with their class as the rows name it, in the study's order (the pooled one
    # first): a file name writes the class file-safe ('a_b' for 'a b'), with -2 where two classes would share a
    # file, and the caption of its stem said 'normal-a b-2' for a_b; by name, auc_vs_gamma.png came last. Not where
    # the rows are newer than the tables (and the figures beside them): a class added since moves the names
    names = {name: (k, "AUC vs gamma" + (f", normal {normal}" if normal else "")) for k, (name, normal) in
             enumerate(figure_names(tables_pool(study_dir, rows, scoring).pooled))} \
        if pngs and _stale_tables(study_dir) is None else {}
    pngs.sort(key=lambda p: (names.get(p.name, (len(names),))[0], "gamma" not in p.name.lower(), p.name))
    # copied into the report, as a run report's figures are, so that report.md keeps its pictures when report/ is
    # moved or sent on its own (it linked ../auc_vs_gamma.png, outside report/)
    pngs = [Path(shutil.copy2(p, out / p.name)) for p in pngs]
    drawn = False
    said: list[str] = []
    captions = {p: names[p.name][1] for p in pngs if p.name in names}
    if not pngs:
        # the rows the study's own figures are drawn from, not every row: a row computed otherwise (other scoring
        # rules or score settings: studies.study.scored_otherwise) is of another score, and pooled it passed a mean of
        # two scores off as the study's curve
        pool = tables_pool(study_dir, rows, scoring)
        pooled, note = pool.pooled, pool.note("these figures")
        if note:
            said.append(note)
        undecided = pool.undecided()
        if undecided:
            # no tables.csv: which rows of other score settings the study pools depends on its command's settings,
            # which the folder does not hold, so none is chosen here (nor by the --score sections: score_views)
            said.append(f"No figure is drawn from results.jsonl: {undecided}. Run the study command again (its "
                        f"finished cells are skipped) to make its tables and figures.")
        # the study's own figures (studies.study draws them from these): each method's own score (f-AnoGAN's A),
        # with its untrained networks and the pixel controls beside, as every result shown is, and 95% bands of
        # every curve, the controls too (gamma_curves.mean_interval)
        curves = auc_vs_gamma(pooled)
        if any(len(pts) >= 2 for label, pts in curves.items() if not label.startswith("control")):
            from . import plots  # matplotlib: this section draws

            figures = gamma_plots(pooled)
            pngs = plots.gamma_figures(out, figures)
            captions = {png: "AUC vs gamma" + (f", normal {f.normal}" if f.normal else "")
                        for png, f in zip(pngs, figures)}
            drawn = True
    if pngs or said:
        page.h(2, "Plots")
        for text in said:
            page.note(text, plain=True)
        if drawn:
            page.p(f"Drawn from results.jsonl (the study left no plot). {BAND_NOTE}")
        elif any(p.name.startswith("auc_vs_gamma") for p in pngs):
            # (the study's own figures: drawn by the study command that last made its tables, whose wildgan may have
            # shaded something else; each figure's axis label names its bands)
            page.p(f"{BAND_NOTE} A figure drawn by an older wildgan may shade only the mean of its cells' intervals "
                   f"over their test images (its axis label says \"shaded: 95% interval over test images\"): run the "
                   f"study command again (its finished cells are skipped) to draw it anew from results.jsonl.")
        for p in pngs:
            page.img(p, captions.get(p, p.stem.replace("_", " ")), width=720)


def _rows_section(page: _Page, rows: list[dict[str, Any]], scoring: list[dict[str, Any]], differ: list[str]) -> None:
    """The result rows, one line each, in the columns a reader compares, and a column for each scoring setting
    (`differ`, of each row's `scoring`: rows.row_scoring) that they differ in."""
    page.h(2, "Result rows (results.jsonl)")
    flat = [{**_flatten(r), **{k: sc[k] for k in differ if k in sc}} for r, sc in zip(rows, scoring)]
    # the columns a reader compares; every field of every row is in results.jsonl (about 50 flattened)
    want = ["cell", "method", "encoder_loss", "gamma", "seed", "kimg", "fanogan_iters", "n_train",
            "n_train_anomalous", "n_test", *(f"auc.{k}" for k in SCORE_NAMES), "controls.untrained.a",
            # (f-AnoGAN's own score is A: its untrained control beside it, not only a's)
            *(["controls.untrained.A"] if any(f.get("method") == "fanogan" for f in flat) else []),
            "controls.pixel_norm", "controls.pixel_std", "controls.pixel_mean", *differ]
    cols = [c for c in want if any(f.get(c) not in (None, "") for f in flat)]
    # (a cell's name holds its normal class, a user's folder name: escaped as a file name is)
    page.table(cols, [[_gamma_cell(f.get(c, "")) if c == "gamma" else f.get(c, "") for c in cols] for f in flat],
               literal=[j for j, c in enumerate(cols) if c == "cell"])
    page.p("Every field of every row (AP, the raw-generator AUCs, mean ||E(Q)||, ...): results.jsonl.")


def _gamma_cell(gamma: Any) -> Any:
    """A row's gamma as its cell's name and tables.md's columns write it (6 significant digits: g0.0015, γ=0.0015):
    a cell's 3 decimals, an AUC's, read 0.0015 as 0.002, beside the cell's name saying g0.0015, and two gammas of one
    study (0.0015, 0.002) alike."""
    return f"{gamma + 0.0:g}" if isinstance(gamma, (int, float)) and not isinstance(gamma, bool) else gamma


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A result row as one level of dotted keys ({'auc': {'a': 0.7}} -> {'auc.a': 0.7}); lists as JSON text."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (list, tuple)):
            out[key] = json.dumps(v)
        elif v is None:
            continue              # e.g. other_generator of an f-AnoGAN row: no column of Nones beside the dict's
        else:
            out[key] = v
    return out


def _runs_section(page: _Page, study_dir: Path, out: Path, rows: list[dict[str, Any]]) -> None:
    """The study's run folders, each linked to its own report when it has one."""
    # "report" among the parts below the study only: a study kept under a folder named report lost every run here.
    # runs/CELL named too: `**` does not walk into a link, and a runs/ (or a cell) kept on another disk and linked
    # into the study, which `wildgan study` reads through, left the section out without a word
    found: dict[str, set[Path]] = {}
    for pattern in ("**/config.json", "runs/*/config.json"):
        for p in study_dir.glob(pattern):
            if "report" not in p.relative_to(study_dir).parts:
                found.setdefault(os.path.realpath(p.parent), set()).add(p.parent)
    if not found:
        return
    page.h(2, "Runs")
    # a run folder with no result row (trained but not evaluated, or a cell of another grid left in the folder)
    # is in no table: said beside it, so the list does not read as the tables' cells
    with_row = {str(r.get("run_dir")) for r in rows}
    # one run reached by two paths (runs/ a link to a folder inside the study: the `**` glob found it there, and
    # runs/* through the link) listed once, by the name its row gives it, else by the shortest: runs/CELL
    runs = sorted(min(names, key=lambda r: (os.path.relpath(r, study_dir) not in with_row, len(r.parts), str(r)))
                  for names in found.values())
    items, lines = [], []
    for r in runs:
        # by the study's own paths, not through its links (resolved, a linked runs/ was named ../../disk/runs/CELL,
        # matched no row's run_dir, and was linked outside the study)
        name = os.path.relpath(r, study_dir)
        esc = html.escape(name)
        has_row = name in with_row
        rep, md = r / "report" / "report.html", r / "report" / "report.md"
        note = "" if has_row else " <span class='muted'>(no result row: in no table)</span>"
        # (the href percent-encoded as report.md's target is: a `#` in a class's name began a fragment, a `?` a query,
        # and the link opened another folder, or none)
        href = html.escape(md_link_target(Path(os.path.relpath(rep, out)).as_posix()))
        # the advice names the run by the study's path as the command was given it (r: study_dir / ...), as the
        # study's other advice does: runs/CELL, relative to the study folder, failed from the user's own folder
        items.append(f'<li><a href="{href}">{esc}</a>{note}</li>' if rep.is_file() else
                     f"<li>{esc} <span class='muted'>(no report yet: wildgan report "
                     f"{html.escape(shell_word(r))})</span>{note}</li>")
        # (the folder's name escaped, its link's target percent-encoded: a study's folders are named by the user)
        lines.append((f"- [{md_escape(name)}]({md_link_target(Path(os.path.relpath(md, out)).as_posix())})"
                      if md.is_file() else f"- {md_escape(name)}")
                     + ("" if has_row else " (no result row: in no table)"))
    page.raw("<ul>" + "".join(items) + "</ul>", "\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------------------------------------
# Entry point

def report(path: str | Path, *, top_k_images: int = 8, images: str | Path | Sequence[str | Path] = (),
           score: str | None = None, masks: np.ndarray | str | Path | None = None, device: str = "auto",
           controls: bool = True, tsne_points: int = 2000, log: Log = _quiet, skip_bad: bool = False,
           progress: bool = False, study_views: Sequence[StudyScoreView] = (), batch_mode: str = "mixed") -> Path:
    """The HTML report of a run directory (has config.json) or a study directory (has results.jsonl). masks: an
    array or an .npy file (see run_report). study_views: for a study, a section per chosen score
    (studies.study.score_views makes them; studies.study.score_report is the two in one call). batch_mode: a run's
    (see run_report)."""
    # (as run_report's, named report to its caller; a study's report reads no labels)
    with labels_needed_by("report", "report", unless_said=True):
        return _report(path, top_k_images=top_k_images, images=as_path_list(images), score=score, masks=masks,
                       device=device, controls=controls, tsne_points=tsne_points, log=log, skip_bad=skip_bad,
                       progress=progress, study_views=study_views, batch_mode=batch_mode)


def _report(path: str | Path, *, top_k_images: int, images: Sequence[str | Path], score: str | None,
            masks: np.ndarray | str | Path | None, device: str, controls: bool, tsne_points: int, log: Log,
            skip_bad: bool, progress: bool, study_views: Sequence[StudyScoreView], batch_mode: str) -> Path:
    """report's work, within its labels_needed_by."""
    refuse_saved_detector(path, "report")
    p = Path(path)
    if (p / "config.json").is_file():
        if study_views:
            raise ConfigError(f"study_views= are sections of a study's report; {p} is a run")
        return run_report(p, top_k_images=top_k_images, images=images, score=score, masks=masks, device=device,
                          controls=controls, tsne_points=tsne_points, log=log, skip_bad=skip_bad, progress=progress,
                          batch_mode=batch_mode)
    if (p / "results.jsonl").is_file():
        if masks is not None:
            raise ConfigError(f"{masks if isinstance(masks, (str, Path)) else 'masks'}: masks are for the report of "
                              f"a run (its test images); {p} is a study")
        # (said, not ignored: a study's report is its tables; each cell is a run, with a report of its own)
        runs = sorted(d for d in (p / "runs").glob("*") if (d / "config.json").is_file())
        cell = f" (e.g. wildgan report {shell_word(runs[0])}" + (" --image ..." if images else "") + ")" if runs else ""
        if images:
            raise ConfigError(f"--image / images= name images to explain with a run's networks; {p} is a study, "
                              f"whose cells are the runs: report on a cell{cell}")
        if batch_mode != "mixed":
            # (its rows were scored by the study's cells, in evaluate's mixed batches: nothing is scored again)
            raise ConfigError(f"--batch-mode / batch_mode scores a run's images; {p} is a study, whose report "
                              f"scores nothing again: report on a cell{cell or ' (a run)'}")
        # the other options of a run's report, refused as --batch-mode is: `--top-k 20` or `--no-controls` on a study
        # gave the same page as without them, and said nothing
        defaults = inspect.signature(report).parameters
        run_only = [words for words, given in (
            (option_words("--top-k", "top_k_images="), top_k_images != defaults["top_k_images"].default),
            (option_words("--tsne-points", "tsne_points="), tsne_points != defaults["tsne_points"].default),
            (option_words("--no-controls", "controls=False"), not controls),
            (option_words("--skip-bad", "skip_bad=True"), skip_bad)) if given]
        if run_only:
            raise ConfigError(f"{', '.join(run_only)}: {'an option' if len(run_only) == 1 else 'options'} of a run's "
                              f"report (its test images, heat maps and controls); {p} is a study, whose report shows "
                              f"its rows and scores nothing again: drop {'it' if len(run_only) == 1 else 'them'}, or "
                              f"report on a cell{cell or ' (a run)'}")
        if score is not None:
            # (the studies layer makes a study's figure of one score: this one is below it)
            raise ConfigError(f"score= chooses the score of a run's report; {p} is a study: its figure and table of "
                              f"one score for every method are wildgan.studies.score_report({str(p)!r}, "
                              f"[{score!r}]) (`wildgan report {shell_word(p)} --score {score}`), or report on a "
                              f"cell{cell}")
        return study_report(p, log=log, views=study_views)
    if not p.exists():
        raise ConfigError(f"{p}: no such folder (a run directory or a study directory is expected)")
    raise ConfigError(f"{p}: neither a run directory (config.json) nor a study directory (results.jsonl)")
