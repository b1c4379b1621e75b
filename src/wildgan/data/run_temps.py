"""The temp files that the atomic writes of a run's files leave in the run folder when their process is killed between
the temp file and the rename (fileio.write_temp_files: ".NAME.XXXXXXXX.tmp"), sorted by which lock covers their
writers, which decides who may delete them and when `wildgan info RUN` may call them stale:

* the training's own files (TRAINING_FILES in the run folder, the checkpoints' JSON in checkpoints/, the sample
  grids in samples/): written only by a process that holds the run's lock (training.run.run_lock; a study's rewrite
  of a cell's config.json takes the cell's lock too), so a resume, which holds it, deletes those a killed one left
  (training_write_temps), and while another process holds it they may be its writes in progress;
* the files that commands other than training write into the run folder as well (SHARED_FILES: the training-score
  caches, train_hashes.npz, Detector.fit's fit_ids.json and detector_threshold.json, which `wildgan score
  --threshold`, `evaluate` and Detector.fit write without the run's lock): every write of them holds the run folder
  as fileio.writing_temps holds it (writing_shared_files), whose next write, or a resume, deletes those a killed one
  left while no other write holds it, and info tells a write in progress by that hold (as evaluations' temp files,
  data.eval_files, which are told apart from these and left to it);
* any other (other_write_temps: a user's output file written into the run folder, a rank's error record, which a
  rank other than 0 may write after rank 0 let the lock go): no lock says whether a process writes it now, so
  nothing deletes it, and info lists it as such.

Kept in the data layer, below training, scoring and thresholds, whose writers hold the folder through it, and the CLI,
which reports them; the file names are those of their writers' modules (checked equal by the tests)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..fileio import remove_files, temp_files, write_temp_files, write_temp_target, writing_temps
from .eval_files import EVAL_FILES
from .train_score_files import TRAIN_SCORE_FILES

# the files in the run folder that only a training writes (under the run's lock): training.run's record and
# config (config.write_run_config), its log of statistics (a resume's truncate_jsonl) and the final networks' JSON
# (checkpoint.save_checkpoint; their weights' temp files are the checkpoint module's own, stale_temp_files)
TRAINING_FILES = ("config.json", "config.yaml", "split.json", "skipped.txt", "stats.jsonl", "network-final.json",
                  "fanogan-final.json")
# the subfolders only a training writes in, and the suffix of the files it writes there: each checkpoint's JSON,
# each sample grid
TRAINING_SUBFOLDERS = (("checkpoints", ".json"), ("samples", ".png"))
# the files in the run folder that a training and other commands write (data.train_score_files' caches;
# data.splits.TRAIN_HASHES_FILE and FIT_IDS_FILE; thresholds.FIT_THRESHOLD_FILE): their writers hold the folder
# (writing_shared_files)
SHARED_FILES = (*TRAIN_SCORE_FILES, "train_hashes.npz", "fit_ids.json", "detector_threshold.json")


def training_write_temps(run_dir: Path) -> list[Path]:
    """The temp files of the training's own writes (TRAINING_FILES, TRAINING_SUBFOLDERS) in run_dir, sorted: a killed
    training's while no process holds the run's lock, else possibly the holder's writes in progress. The one rule of
    a resume's removal (remove_training_write_temps) and of `wildgan info RUN`'s report of them."""
    run_dir = Path(run_dir)
    found = temp_files(run_dir, TRAINING_FILES)
    for sub, suffix in TRAINING_SUBFOLDERS:
        found += [p for p in write_temp_files(run_dir / sub) if (write_temp_target(p.name) or "").endswith(suffix)]
    return sorted(found)


def remove_training_write_temps(run_dir: Path) -> list[Path]:
    """Delete training_write_temps(run_dir); call only while this process holds the run's lock (training.run), which
    every writer of those files holds: none of them can be a write in progress. Returns what was deleted."""
    return remove_files(training_write_temps(run_dir))


def shared_write_temps(run_dir: Path) -> list[Path]:
    """The temp files of writes of SHARED_FILES in run_dir, sorted (fileio.temp_files)."""
    return temp_files(Path(run_dir), SHARED_FILES)


@contextmanager
def writing_shared_files(run_dir: Path) -> Iterator[list[Path]]:
    """Hold run_dir for the block as the writer of some of SHARED_FILES does (fileio.writing_temps), deleting first,
    where no other process writes there, the temp files of such writes that a killed process left; yields what was
    deleted. Every writer of those files writes inside this block, whatever lock it holds besides (a training holds
    the run's lock, `wildgan score --threshold` and Detector.fit's threshold none), so a temp file of one found while
    no process holds the folder is a killed writer's."""
    with writing_temps(Path(run_dir), lambda: shared_write_temps(Path(run_dir))) as gone:
        yield gone


def other_write_temps(run_dir: Path) -> list[Path]:
    """The temp files of atomic writes in run_dir and every folder below it that are neither the training's own
    (training_write_temps), nor of SHARED_FILES, nor an evaluation's outputs' in the run folder or an eval-*/ folder
    (data.eval_files.eval_temp_files, which the next evaluation there deletes), sorted: no lock tells whether their
    writer is at work now. Not walked into: symlinked folders (another place's files), and hidden ones, which are
    wildgan's staging folders (a report's .report-partial-*, written whole before it becomes report/, and removed as
    a whole by a later report once abandoned: evaluation.report)."""
    run_dir = Path(run_dir)
    known = set(training_write_temps(run_dir)) | set(shared_write_temps(run_dir))
    found: list[Path] = []
    for folder, subs, _ in os.walk(run_dir):
        subs[:] = [s for s in subs if not s.startswith(".") and not os.path.islink(os.path.join(folder, s))]
        here = Path(folder)
        evaluations = here == run_dir or (here.parent == run_dir and here.name.startswith("eval-"))
        found += [p for p in write_temp_files(here)
                  if p not in known and not (evaluations and write_temp_target(p.name) in EVAL_FILES)]
    return sorted(found)
