"""The paper's study as one resumable grid: normal class x gamma x method x encoder loss x seed.

Each cell trains (or reuses a finished run, or resumes an interrupted one), evaluates on its test split with the
controls, and appends one row to STUDY_DIR/results.jsonl. Re-running skips cells that already have a row (a line
that is no such row, edited by hand or damaged, is named and kept, and its cell evaluated again: tables.read_rows). A
study folder holds one configuration: before anything runs, every cell already in it is compared with what the command
asks for, and a difference that changes results (schedule, data, architecture, ...) is refused, never silently reused.
A finished cell whose row was scored otherwise (other scoring rules, or other score/search settings: lam, kappa,
...) is evaluated again with its networks kept, since evaluation is cheap and training is not.
Tables (tables.md, tables.csv) and the AUC-versus-gamma plot are re-made from the rows at the end. They pool only the
rows computed as the command computes its cells: a row of a cell the command does not run that was scored otherwise
is kept, listed apart (tables.md) and marked (tables.csv), since its AUCs are of another score (scored_otherwise).
"""

from __future__ import annotations

import json
import math
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ..config import (DataConfig, RunConfig, ScoreConfig, SearchConfig, check_api_call, own_score, read_run_config,
                      refuse_untrained_encoder, scoring_changes, scoring_settings, thread_counts,
                      untrained_encoder_words, write_run_config)
from ..data import AnomalySplit, LoadedData, build_split, load_split_data
from ..data.eval_files import EVAL_JSON, SCORES_CSV
from ..data.splits import read_for
from ..data.readers import is_run_dir, is_study_dir
from ..devices import caller_torch_state_kept
from ..errors import (STUDY_DEPTH16, CheckpointError, ConfigError, DataError, Terminated, TrainingInterrupted,
                      WildganError, WildganWarning, depth16_keyword_as, option_words, shell_word, stop_text, stop_words,
                      warn_user)
from ..evaluation.gamma_curves import gamma_plots
from ..evaluation.rows import other_scoring_rules, tables_pool
from ..evaluation.run import evaluate_run
from ..fileio import (atomic_write_text, host_only_locks, json_lines, leave_out_defaults, make_folder, temp_files,
                      writing_temps)
from ..runlog import RunLog, copying_warnings
from ..scoring.run import load_model
from ..scoring.scores import SCORES_VERSION, SCORES_VERSION_ABSENT, UNRECORDED_SCORES_VERSION
from ..training.run import (RESUME_MAY_CHANGE, data_folder_holding, networks_record, out_words,
                            refuse_images_in_out, refuse_inside_a_runs_own_folder, run_differences, run_lock,
                            train_run, trained_line)
from .tables import (cell_rank, comparison_holds, read_rows, render_comparisons_csv, render_csv,
                     render_markdown)

if TYPE_CHECKING:
    from ..evaluation.report import StudyScoreView


@dataclass(frozen=True)
class Cell:
    normal: str                # its normal classes joined by ',' (its key's, row's and tables' name of them)
    gamma: float
    method: str
    encoder_loss: str          # image | latent | '-' for methods without an encoder loss choice
    seed: int
    # the normal classes themselves where `normal` split at its commas does not give them back: a class whose name
    # holds a comma ('a,b' of a folder tree), which cell_config split into classes 'a' and 'b' ("does not exist");
    # () otherwise, so that every other cell is as it was (cell_classes)
    classes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.normal}_g{gamma_key(self.gamma)}_{self.method}_{self.encoder_loss}_s{self.seed}"

    @property
    def normal_classes(self) -> tuple[str, ...]:
        """The cell's normal classes, as its run's data.normal has them."""
        return self.classes or tuple(self.normal.split(","))


def cell_classes(classes: str | Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """(normal, classes) of a Cell for its normal classes: a str is classes joined by ',' (a row's, --normal's, grid's
    'a,b'), a sequence the class names themselves (a class named 'a,b' as ('a,b',)); classes () where the joined name
    splits back into them."""
    names = tuple(str(c) for c in classes) if not isinstance(classes, str) else tuple(classes.split(","))
    joined = ",".join(names)
    return joined, (() if tuple(joined.split(",")) == names else names)


def row_cell(row: dict[str, Any]) -> Cell:
    """The cell of a row of results.jsonl: its normal classes from normal_classes where the row records them (a class
    whose name holds a comma), else from normal."""
    listed = row.get("normal_classes")
    normal, classes = (cell_classes(listed) if isinstance(listed, list) and listed
                       else (str(row["normal"]), ()))
    return Cell(normal, float(row["gamma"]), str(row["method"]), str(row["encoder_loss"]), int(row["seed"]), classes)


def gamma_key(gamma: float) -> str:
    """gamma as a cell's key (its run folder and row) writes it: 6 significant digits, which every study folder's
    names were made with, so it stays (check_gammas refuses two values it would write alike). -0 is written 0: the
    same gamma, which was a second cell 'g-0'."""
    return f"{gamma + 0.0:g}"


def check_gammas(gammas: Sequence[float], what: str | None = None) -> None:
    """Raise ConfigError where two different gammas would be written alike in a cell's key (gamma_key: 0.1 and
    0.1000001 both 'g0.1'): they would be one cell, one run folder and one row, and grid kept the first and dropped
    the other without a word. The same value given twice (0, 0.0) is one cell, as meant. what: the option the gammas
    came from, as the message names it (default: --contamination, or grid's gammas=)."""
    seen: dict[str, float] = {}
    for g in gammas:
        was = seen.setdefault(gamma_key(g), g)
        if was != g:
            named = what or option_words('--contamination', 'grid(gammas=...)')
            raise ConfigError(f"{named}: gammas {was!r} and {g!r} would name one cell (g{gamma_key(g)}: a cell's "
                              f"name, run folder and row write gamma with 6 significant digits); give gammas that "
                              f"differ within those digits")


def grid(normals: str | Sequence[str | Sequence[str]], gammas: list[float], methods: str | list[str],
         encoder_losses: str | list[str], seeds: list[int]) -> list[Cell]:
    """Every cell once, in the order given: a value repeated in a list (--seeds 0,0, --contamination 0,0.0) adds
    no cell, where it added the same cell again, whose copies the tables counted as seeds. A str given for a list
    (grid('normal', ...)) is that one value, not its letters (one cell per letter, classes 'n', 'o' ...). Each entry
    of normals is one cell's normal classes: a str joined by ',' ('0,1'), or a tuple of the names (('a,b',): one
    class whose name holds a comma)."""
    normals, methods, encoder_losses = ([v] if isinstance(v, str) else v for v in (normals, methods, encoder_losses))
    check_gammas(gammas)
    cells = []
    for n in normals:
        normal, classes = cell_classes(n)
        for g in gammas:
            for m in methods:
                for e in (encoder_losses if m == "wildgan" else ["-"]):
                    for s in seeds:
                        cells.append(Cell(normal, g + 0.0, m, e, s, classes))     # (+ 0.0: -0 is 0, gamma_key)
    unique: dict[str, Cell] = {}
    for c in cells:
        was = unique.setdefault(c.key, c)     # by key, which names the cell's run folder and row
        if was.normal_classes != c.normal_classes:
            # (classes 'a' and 'b' as one cell, and a class 'a,b': one name, run folder and row for both)
            raise ConfigError(f"normal classes {list(was.normal_classes)} and {list(c.normal_classes)} would name one "
                              f"cell ({c.key}); study them in two study folders")
    return list(unique.values())


def cell_config(base: RunConfig, cell: Cell) -> RunConfig:
    """The run config of one cell: the base config with the cell's normal class, gamma, method, loss and seed."""
    data = replace(base.data, normal=cell.normal_classes, contamination=cell.gamma, seed=cell.seed)
    enc = {"wildgan": cell.encoder_loss, "search": "none"}.get(cell.method, base.train.encoder_loss)
    # d_I in G's loss (train.g_image_loss: `wildgan study --g-image-loss`, or a base built in Python) is the wildgan
    # cells' alone: the baselines train no encoder of the pGAN's (as `wildgan train --method search|fanogan` sets it
    # to 0), where a search cell was refused for an encoder_loss 'none' the user never gave
    gil = base.train.g_image_loss if cell.method == "wildgan" else 0.0
    train = replace(base.train, encoder_loss=enc, seed=cell.seed, g_image_loss=gil)
    return replace(base, data=data, train=train, method=cell.method, fanogan=replace(base.fanogan, seed=cell.seed),
                   search=replace(base.search, seed=cell.seed))


# what may differ between a cell's run and a re-run of the study: the budget, device and speed switches. The length
# (total_kimg) may not: a finished cell of another length would stand in the tables as this study's.
STUDY_MAY_CHANGE = RESUME_MAY_CHANGE - {"total_kimg"}


def study_base(base: RunConfig, study_dir: Path) -> RunConfig:
    """base with the contamination draw of the contaminated cells already in study_dir (DataConfig
    .contamination_draw): a study started before the nested draw goes on with its own rule, so that its new cells'
    gammas stay comparable with its old ones and its interrupted cells resume on the training sets they had."""
    runs = Path(study_dir) / "runs"
    for run_dir in sorted(runs.iterdir()) if runs.is_dir() else []:
        if (run_dir / "config.json").is_file():
            data = read_run_config(run_dir).data
            if data.contamination > 0:    # (a clean cell drew nothing: either rule gave it the same images)
                return replace(base, data=replace(base.data, contamination_draw=data.contamination_draw))
    return base


def check_study_data(data: str | None, dataset: str = "auto") -> None:
    """Refuse unlabelled data (a folder or tar of loose images, an .npz without labels, dataset='unlabelled'): a study
    measures AUC on each cell's test split, which such data does not have. Looks at the path only (`data` as given,
    or as cfg.data.data records it), so it is asked before the images are decoded."""
    from ..data.dataset_files import npz_has_labels
    from ..data.readers import detect_format, is_pile, resolve_data_root

    root = resolve_data_root(data, dataset)
    fmt = detect_format(root) if root.exists() else None
    if dataset == "unlabelled" or fmt == "unlabelled-folder" or (fmt == "npz" and not npz_has_labels(root)) \
            or (fmt == "folder-tar" and dataset in ("auto", "unlabelled") and is_pile(root)):
        raise ConfigError(f"{root}: a study measures AUC and needs labelled data (class folders, CIFAR-10, an .npz "
                          f"with labels); unlabelled images are for `wildgan train`")


def check_study_out_dir(study_dir: Path, data: str | None) -> None:
    """The refusals of check_study_dir that need only the paths (`data` as cfg.data.data records it), not the data:
    `wildgan study` asks them before it decodes the images, which can take minutes that a refusal would then waste.
    Touches nothing."""
    study_dir = Path(study_dir)
    for d in (study_dir, *study_dir.parents):
        if d.exists() and not d.is_dir():
            raise ConfigError(f"{out_words('study')} {study_dir}: {d} is a file; give a folder for the study")
    if is_run_dir(study_dir):
        # the study's runs/ and results.jsonl would be written into a run's folder, mixed with its files
        raise ConfigError(f"{out_words('study')} {study_dir} is a wildgan run folder (written by `wildgan train`); "
                          f"give another {out_words('study')} for the study")
    # each new cell's run would be refused inside the data folder (train_run), but only once the study reached it,
    # after its log.txt and lock had made the study folder, which the data's reader then took for a class folder. A
    # study with started cells is let through, as train lets an older wildgan's run there resume.
    place = data_folder_holding(data, study_dir)
    runs = study_dir / "runs"
    started = runs.is_dir() and any((r / "config.json").is_file() for r in runs.iterdir())
    if place is not None and (study_dir.resolve() == place or not started):
        raise ConfigError(f"{out_words('study')} {study_dir} is inside the data folder {place}: the cells' sample "
                          f"grids and report figures would mix with the data's images; choose "
                          f"{option_words('an --out', 'another study_dir')} outside {place}")
    if not started:
        refuse_inside_a_runs_own_folder(study_dir, kind="study")
        # (a folder whose results.jsonl holds rows is a study whose runs/ was deleted to save space, its rows kept:
        # is_study_dir wants runs/, and such a study was refused as a folder of images, "and no study")
        if study_dir.is_dir() and not is_study_dir(study_dir) and not read_rows(study_dir / "results.jsonl",
                                                                               warn=False):
            # a mistyped --out (the folder of images to score) made a study of it, as train's would a run: the
            # readers then skipped the folder and `score --data` refused it (a study's own figures are no images)
            refuse_images_in_out(study_dir, "study", "the study's files and its cells' sample grids and report "
                                                     "figures")


def check_study_dir(base: RunConfig, cells: list[Cell], study_dir: Path) -> None:
    """Raise ConfigError when a cell already in study_dir was (or is being) trained with other settings than the
    command's, or check_study_out_dir refuses it; touches nothing."""
    check_study_out_dir(study_dir, base.data.data)
    # every cell of the folder, not only this command's: the tables pool all of its rows, so a new seed or gamma
    # trained with other settings would otherwise stand beside the old ones as the same study
    todo = {cell.key: cell for cell in cells}
    runs = Path(study_dir) / "runs"
    for run_dir in sorted(runs.iterdir()) if runs.is_dir() else []:
        if run_dir.name not in todo and (run_dir / "config.json").is_file():
            todo[run_dir.name] = _cell_of(read_run_config(run_dir))
    for key, cell in todo.items():
        run_dir = runs / key
        if not (run_dir / "config.json").is_file():
            continue
        diffs = run_differences(read_run_config(run_dir), cell_config(base, cell), STUDY_MAY_CHANGE)
        if diffs:
            raise ConfigError(
                f"{study_dir} holds cell {cell.key} trained with other settings ({'; '.join(diffs)}): a study folder "
                f"holds one configuration, and its cells would be reused or continued as they are. Give another "
                f"{out_words('study')}, or the study's own settings (its cells' config.yaml); to redo one cell, "
                f"delete {run_dir} (and its line in {Path(study_dir) / 'results.jsonl'}, if it has one)")
    # a row whose run folder is gone (runs/CELL deleted to save space, results.jsonl kept) has no config.json to
    # compare, and its cell is done: skipped, its AUCs pooled with the new cells' in one mean. Its row records the
    # settings that most change results, which are compared instead
    results = Path(study_dir) / "results.jsonl"
    for row in read_rows(results, warn=False):
        if (runs / str(row["cell"]) / "config.json").is_file():
            continue                                  # (compared above, by its config.json)
        cell = row_cell(row)
        asked = todo.get(str(row["cell"]))          # (the key cells_to_compute finds the row by)
        if asked is not None and asked.normal_classes != cell.normal_classes:
            # one key, two cells: classes 'a' and 'b' (the row of `--normal a+b`) and a class named 'a,b'. Compared
            # above where the run folder is there; a row alone was taken as the asked cell done (cells_to_compute
            # goes by the key), its AUCs those of the other normal classes
            raise ConfigError(
                f"{study_dir} holds the row of cell {row['cell']} of the normal classes {list(cell.normal_classes)}, "
                f"whose name the cell of the normal classes {list(asked.normal_classes)} has too, and its run folder "
                f"is gone: the row would be taken as that cell's. Study them in two study folders, or delete its line "
                f"in {results} to train the cell of {list(asked.normal_classes)} here")
        diffs = _row_differences(row, cell_config(base, cell))
        if diffs:
            raise ConfigError(
                f"{study_dir} holds the row of cell {row['cell']} computed with other settings ({'; '.join(diffs)}) "
                f"and its run folder is gone: a study folder holds one configuration, and the row would be pooled as "
                f"it is with the new cells. Give another {out_words('study')}, or the study's own settings; to "
                f"train this cell again with these settings, delete its line in {results}")


def _row_differences(row: dict[str, Any], cfg: RunConfig) -> list[str]:
    """The settings a study row records (those of its run's config that change results the most: the preset, the
    networks' size, the images' size, the test set's size, the rotations) that differ from cfg's, as
    'section.key: row's -> cfg's'. A field the row does not record (an older wildgan's) or that cfg leaves to the
    data (None, where the row's protocol has no default for it: data.splits.PROTOCOL_DEFAULTS) is not compared. For a
    row whose run folder, and so config.json, is gone (check_study_dir)."""
    from ..data.splits import PROTOCOL_DEFAULTS

    # a setting left to the protocol is its default (chula-rbc12's 3 rotations, CIFAR-10's 32x32x3): a command
    # without --rotations is not the row's --rotations 1
    default = PROTOCOL_DEFAULTS.get(str(row.get("protocol")), {})

    def now(key: str) -> Any:
        v = getattr(cfg.data, key)
        return default.get(key) if v is None else v

    pairs: list[tuple[str, str, Any]] = [("preset", "preset", cfg.preset),
                                         ("test_size", "data.test_size", cfg.data.test_size),
                                         *((k, f"data.{k}", now(k)) for k in ("resolution", "channels", "rotations"))]
    if cfg.method == "fanogan":
        pairs.append(("fanogan_dim", "fanogan.dim", cfg.fanogan.dim))
    else:
        pairs += [("width", "net.fmap_max", cfg.net.fmap_max), ("latent_size", "net.latent_size",
                                                                cfg.net.latent_size)]
    return [f"{name}: {row[key]} -> {v}" for key, name, v in pairs
            if v is not None and row.get(key) is not None and row[key] != v]


@contextmanager
def _said_once_each(seen: set[str]) -> Iterator[None]:
    """The warnings raised in the block, said (under the caller's filters) as the block ends, however it ends, and
    only those whose message is not in `seen` yet (which they are added to): the same note raised again by a later
    block, or twice in this one, is said once. Where the block raises, its error is the one raised: a warning that
    the caller's filter makes an error is added to it as a note (Python 3.11+), not raised in its place."""
    import warnings

    said: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            yield
    except BaseException as e:
        _say_new(said, seen, e)
        raise
    _say_new(said, seen, None)


def _say_new(said: list[Any], seen: set[str], raising: BaseException | None) -> None:
    """_said_once_each's saying of `said`. raising: the error the block raised, if it did: a warning said as an error
    under the caller's "error" filter then replaced it (the cause kept only as its __context__), so the caller saw
    the note and not what failed."""
    import warnings

    for w in said:
        if str(w.message) in seen:
            continue
        seen.add(str(w.message))
        try:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        except Warning as as_error:
            if raising is None:
                raise
            if hasattr(raising, "add_note"):                # (Python 3.11+; on 3.10 the note is dropped)
                raising.add_note(f"also warned: {type(as_error).__name__}: {as_error}")


def check_cells(base: RunConfig, cells: list[Cell], study_dir: Path | None = None, *,
                loaded: LoadedData | None = None, progress: bool | None = None, said: Sequence[str] = ()) -> None:
    """Raise ConfigError naming every cell that would fail when the study reaches it, before any cell trains: its
    split (a normal class the data lacks, a contamination outside [0, 1) or above what the anomalous images allow,
    too few normal or test images) or its method's needs (f-AnoGAN's image size and batch, the pGAN's largest
    minibatch and memory). Without this, a bad cell fails hours in, after every cell before it.

    Cells with a row in STUDY_DIR/results.jsonl are done and not checked. The data set is read once, and each split
    the cells differ in is built from it once (in memory one at a time: a split of CIFAR-10 from its decoded cache
    takes about 0.1 s). `loaded`: the data as the caller read it with load_split_data, for base.data or for the same
    data config with resolution and channels left to the data (as `wildgan study` reads it to find them): which
    images a split selects does not depend on the size they were decoded at, and only the selection is checked.
    `said`: the warnings the caller has shown already (its own split of the data), not said again here."""
    # (its bad lines were named by the command's first read of it, run_study's or `wildgan study`'s: their cells are
    # checked here, not done)
    done = ({r["cell"] for r in read_rows(Path(study_dir) / "results.jsonl", warn=False)} if study_dir is not None
            else set())
    todo = [c for c in cells if c.key not in done]
    if not todo:
        return
    if loaded is None:
        loaded = load_split_data(base.data, progress=progress)
    splits: dict[DataConfig, int | str] = {}          # the number of training images, or what build_split raised
    problems: dict[str, list[Cell]] = {}
    pgan_checked: str | None = None                   # the pGAN cells' shared checks, made once (same networks)
    # (said: the warnings the caller showed already, `wildgan study`'s split of its base config: the data's notes
    # that every split says, not said a second time by the cells' checks)
    seen: set[str] = set(said)
    for cell in todo:
        # a cell's warnings said once it is checked, each message once (a rebuilt split repeats its data's notes):
        # said only after all cells, a long check showed nothing until its end, and an error out of a later cell
        # lost them
        with _said_once_each(seen):
            try:
                cfg = cell_config(base, cell)
                # (a wildgan cell of grid(..., encoder_losses=['none']): refused before any cell trains, in words of
                # the cells, whose encoder loss a wildgan cell's config takes, not the base's)
                _refuse_untrained_cell(cfg)
            except ConfigError as e:                  # e.g. a gamma outside [0, 1)
                problems.setdefault(str(e), []).append(cell)
                continue
            # read at the size the data was read at (the cell trains at cfg.net's, which the method checks take)
            data = replace(cfg.data, resolution=loaded.options["resolution"], channels=loaded.options["channels"])
            if data not in splits:
                try:
                    splits[data] = len(build_split(data, loaded=loaded).train_x)
                except (ConfigError, DataError) as e:
                    splits[data] = str(e)
            got = splits[data]
            problem = got if isinstance(got, str) else _method_problem(cfg, got)
            if problem is None and cfg.method != "fanogan":
                if pgan_checked is None:
                    pgan_checked = _pgan_problem(cfg) or ""
                problem = pgan_checked or None
            if problem is not None:
                problems.setdefault(problem, []).append(cell)
    if problems:
        n_bad = sum(len(v) for v in problems.values())
        lines = []
        for problem, bad in list(problems.items())[:10]:
            others = [c.key for c in bad[1:6]] + ([f"{len(bad) - 6} more"] if len(bad) > 6 else [])
            also = f" (also cell{'s' if len(bad) > 2 else ''} {', '.join(others)})" if others else ""
            lines.append(f"  {_describe(bad[0])}: {problem}{also}")
        if len(problems) > 10:
            lines.append(f"  ... and {len(problems) - 10} more problems")
        raise ConfigError(f"{n_bad} of the {len(todo)} study cells to run cannot be trained; nothing was trained (all "
                          f"are checked before the first trains): fix these and run the command again\n"
                          + "\n".join(lines))


def cells_to_compute(base: RunConfig, cells: list[Cell], study_dir: Path) -> list[Cell]:
    """The cells of `cells` that run_study would train or evaluate, and so read the data for: those without a row in
    STUDY_DIR/results.jsonl, and those whose row was computed otherwise than base computes it (other scoring rules or
    score/search settings: evaluated again, see _drop_rows_of_other_scoring). None: run_study only re-makes the
    tables, from the rows, which hold each cell's AUCs and its controls (the untrained networks' and the pixel
    statistics' AUCs, computed when the cell was evaluated), so no image is read."""
    study_dir = Path(study_dir)
    base = study_base(base, study_dir)
    rows = {str(r["cell"]): r for r in read_rows(study_dir / "results.jsonl", warn=False)}
    todo = []
    for cell in cells:
        row = rows.get(cell.key)
        version, changed = (None, []) if row is None else _scoring_of(row, base, study_dir)
        if row is None or version is not None or changed:
            todo.append(cell)
    return todo


def recorded_shape(cells: list[Cell], study_dir: Path) -> tuple[int, int] | None:
    """The resolution and channels the data was read at for `cells` of the study in study_dir, as their runs recorded
    them (config.json; a row's own fields for a cell whose run folder is gone): what a study command that asks for
    neither takes from the data, known here without decoding it. None when a cell recorded none, or the cells differ
    (the data's decode then decides, and check_study_dir names the difference)."""
    study_dir = Path(study_dir)
    rows = {str(r["cell"]): r for r in read_rows(study_dir / "results.jsonl", warn=False)}
    shapes = set()
    for cell in cells:
        run_dir = study_dir / "runs" / cell.key
        if (run_dir / "config.json").is_file():
            data = read_run_config(run_dir).data
            shapes.add((data.resolution, data.channels))
        else:
            row = rows.get(cell.key, {})
            shapes.add((row.get("resolution"), row.get("channels")))
    if len(shapes) != 1:
        return None
    res, ch = shapes.pop()
    return (res, ch) if isinstance(res, int) and isinstance(ch, int) else None


class _Unreadable(Exception):
    """A run's split.json that cannot be read (_split_records)."""


def _split_records(study_dir: Path) -> list[dict[str, Any]]:
    """The split.json of every run of study_dir that has one (sorted by run folder); _Unreadable when one cannot be
    read as a JSON object: the records then tell nothing, and the data is read as before."""
    runs = Path(study_dir) / "runs"
    out = []
    for run_dir in sorted(runs.iterdir()) if runs.is_dir() else []:
        if (run_dir / "split.json").is_file():
            try:
                info = json.loads((run_dir / "split.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise _Unreadable() from None
            if not isinstance(info, dict):
                raise _Unreadable()
            out.append(info)
    return out


def recorded_classes(study_dir: Path) -> tuple[list[str], list[str]] | None:
    """(the data's class names, the excluded ones) as the runs of study_dir recorded them in their split.json, when
    every run that has one agrees; None when none has, one cannot be read, or they differ."""
    try:
        seen = {(tuple(map(str, info["class_names"])), tuple(map(str, info["excluded_classes"])))
                for info in _split_records(study_dir)}
    except (KeyError, TypeError, _Unreadable):
        return None
    if len(seen) != 1:
        return None
    names, excluded = seen.pop()
    return list(names), list(excluded)


def recorded_default_normal(study_dir: Path, protocol: str) -> str | None:
    """The normal set (classes joined by ',') of the one cell a study without --normal makes, the protocol's default
    normal set, known from the study's records where the protocol's default is a fixed class (cifar10: automobile,
    mnist: 2; data.splits.PROTOCOL_DEFAULTS): every run's split.json says `protocol` and the same class names, and
    every run and row of results.jsonl has that class as its normal set. (A cell's split records the normal set it
    was given, not whether it is the default, so a study made with another --normal is told apart by the class.)
    None otherwise: no split.json, a record that says another protocol or normal set or cannot be read, or a protocol
    whose default is chosen by the data (chula-rbc12: the classes of the crops labelled normal, which no record
    holds): the data then decides, read as before."""
    from ..data.splits import PROTOCOL_DEFAULTS, resolve_classes

    default = PROTOCOL_DEFAULTS.get(protocol, {}).get("normal")
    study_dir = Path(study_dir)
    try:
        infos = _split_records(study_dir)
        seen: set[tuple[Any, str]] = {(info["protocol"], ",".join(map(str, info["normal_classes"]))) for info in infos}
        names = {tuple(map(str, info["class_names"])) for info in infos}
    except (KeyError, TypeError, _Unreadable):
        return None
    for row in read_rows(study_dir / "results.jsonl", warn=False):
        seen.add((row.get("protocol"), str(row["normal"])))
    if not default or len(names) != 1 or len(seen) != 1:
        return None
    class_names = list(names.pop())
    try:
        normal = ",".join(class_names[i] for i in resolve_classes(tuple(default), class_names, "normal", "default"))
    except DataError:
        return None
    return normal if seen.pop() == (protocol, normal) else None


def first_kept_class(names: Sequence[str], excluded: Sequence[str], source: str = "the data") -> str:
    """The first of the data's class names that `excluded` (DataConfig.exclude_classes: names or indices) does not
    name, as the split resolves them (data.splits.resolve_classes): the normal class of a one-vs-rest study's base
    config. The first name when an entry names no class (the split then says which, naming the data). A DataError
    naming `source` (the data) when there are no names at all, or every one is excluded: there is no class to be
    normal (an IndexError before; the split's "a class cannot be both normal and excluded" for the latter, of a
    normal class the user never named)."""
    from ..data.splits import resolve_classes

    one_vs_rest = option_words("--normal all", "grid(normals=...) of every class")
    if not names:
        raise DataError(f"the data has no classes: a one-vs-rest study ({one_vs_rest}) needs labelled images of at "
                        f"least two classes")
    try:
        out = set(resolve_classes(tuple(excluded), list(names), "excluded", source))
    except DataError:
        # (not said here: the split's own check says it, in the words of each path that builds one)
        return names[0]
    kept = [n for i, n in enumerate(names) if i not in out]
    if not kept:
        exclude = option_words("--exclude", "exclude_classes=")
        raise DataError(f"{source}: {exclude} excludes every class of the data ({', '.join(names)}): a one-vs-rest "
                        f"study ({one_vs_rest}) needs at least one class left to be normal")
    return kept[0]


def listed_study_classes(data: DataConfig, study_dir: Path) -> list[str] | None:
    """A one-vs-rest study's classes (`wildgan study --normal all`) without decoding the data, for a study whose cells
    recorded them (split.json): where the classes of `data`, listed without decoding an image (data.readers
    .listed_labels: a folder tree's or an archive's class folders, an .npz's labels, CIFAR-10 batches' batches.meta),
    are the recorded ones, those, less the recorded exclusions (other exclusions are refused by check_study_dir as
    other settings). None where they cannot be listed or differ: reading the data then finds a new class's cells to
    train. (The protocol, which the images may decide, has no say in which classes there are.)"""
    from ..data.readers import listed_labels

    listed = listed_labels(data.data, data.dataset)
    recorded = recorded_classes(study_dir)
    if listed is None or recorded is None or sorted(recorded[0]) != sorted(listed[1]):
        return None
    return [n for n in recorded[0] if n not in recorded[1]]


def listed_default_cell(data: DataConfig, study_dir: Path, log: Callable[[str], None] | None = None
                        ) -> list[str | tuple[str, ...]] | None:
    """The one cell (its normal classes joined by ',', or a tuple of them where one holds a comma) of a study that names
    no normal class (the protocol's default normal set) without decoding the data: the protocol and its default as the
    data's labels give them (data.splits.list_data: CIFAR-10's automobile, MNIST's 2, chula-rbc12's classes of the crops
    labelled normal), where `data` or its labels tell the protocol; whether that cell is done is its row's say
    (cells_to_compute). Data that cannot be listed (moved or gone, which a re-run that only makes the tables does not
    need) under dataset cifar10 or mnist, whose default is a fixed class: the cell the study's cells recorded
    (recorded_default_normal). None otherwise: where only the images tell (list_data), or the protocol has no default
    (reading the data then says to choose one). log: where the warning about cells of an older default goes (None: a
    Python warning)."""
    from ..data.splits import list_data

    listed = list_data(data)
    if listed is not None:
        if listed.default_before and listed.default_normal:
            _say_cells_of_the_old_default(listed.default_before, listed.default_normal, data.data, Path(study_dir),
                                          log)
        if not listed.default_normal:
            return None
        joined, named = cell_classes(listed.default_normal)
        return [named or joined]           # (the names themselves where one holds a comma: grid)
    normal = recorded_default_normal(study_dir, data.dataset) if data.dataset in ("cifar10", "mnist") else None
    return None if normal is None else [normal]


def _say_cells_of_the_old_default(before: list[str], now: list[str], data: str | None, out: Path,
                                  log: Callable[[str], None] | None) -> None:
    """A study without a normal class of chula-rbc12 data with unlabelled crops that holds cells of the default normal
    set an older wildgan took there (the last class beside the normal ones: data.splits.ListedData.default_before):
    its default cell is now another one, trained beside them, which nothing else would say."""
    old = ",".join(before)
    runs = out / "runs"
    held = any(str(r.get("normal")) == old for r in read_rows(out / "results.jsonl", warn=False)) or (
        runs.is_dir() and any(p.name.startswith(f"{old}_g") for p in runs.iterdir()))
    if held:
        last = next((c for c in before if c not in now), before[0])
        msg = (f"warning: {out} holds cells of normal set {old}, the default of an older wildgan for {data}, which "
               f"took its unlabelled crops (label -1) as the last class, {last!r}, and so trained on that class as "
               f"normal too; the default normal set is now {','.join(now)}, whose cells are trained beside those "
               f"(the tables show both). --normal {old} continues the old cells")
        if log is None:
            warn_user(msg.removeprefix("warning: "))
        else:
            log(msg)


def _refuse_untrained_cell(cfg: RunConfig, cell: Cell | None = None) -> None:
    """refuse_untrained_encoder of a wildgan cell's config in the study's words, which name the cells' encoder loss
    (a wildgan cell's config takes it, not the base's), and the cell where given (check_cells names its cells
    itself). Called by check_cells and again by _run_study before a cell trains: a caller whose cells_checked=True
    skipped check_cells was told train_run's words, dataclasses.replace(cfg, ...), of a cfg it never built."""
    try:
        refuse_untrained_encoder(cfg, said=untrained_encoder_words(
            "where that none is an earlier run's (read_run_config), that run was",
            "set the cell's encoder loss (Cell.encoder_loss; grid's encoder_losses) to"))
    except ConfigError as e:
        if cell is None:
            raise
        # (every part kept, the setting's too, as every refusal of one setting keeps them: ConfigError.within)
        raise e.within(_describe(cell)) from None


def _describe(cell: Cell) -> str:
    enc = f", encoder loss {cell.encoder_loss}" if cell.method == "wildgan" else ""
    return (f"cell {cell.key} (normal {cell.normal}, gamma {cell.gamma:g}, method {cell.method}{enc}, seed "
            f"{cell.seed})")


def _method_problem(cfg: RunConfig, n_train: int) -> str | None:
    """What the cell's method refuses of its n_train training images (what train_fanogan / train_pgan would raise),
    and of an f-AnoGAN cell's seed, device and budget (train_run's check_fanogan_shared); the images are converted to
    cfg.net's resolution and channels."""
    try:
        if cfg.method == "fanogan":
            from ..training.fanogan_loop import check_fanogan_training
            from ..training.run import check_fanogan_shared

            r = cfg.net.resolution
            check_fanogan_training(cfg.fanogan, n_train, r, r, cfg.net.channels)
            # (a run_study base built in Python with train.device "cpu" alone: refused by train_run at the first
            # f-AnoGAN cell, after the cells before it had trained)
            check_fanogan_shared(cfg)
        else:
            from ..training.loop import check_training_set_size

            check_training_set_size(n_train, cfg.train, cfg.net)
    except (ConfigError, DataError) as e:
        return str(e)
    return None


def _pgan_problem(cfg: RunConfig) -> str | None:
    """What train_run refuses of a pGAN (wildgan, search) run before it trains, the same for each of a study's pGAN
    cells: a study that trains f-AnoGAN first would otherwise meet it only at its first pGAN cell."""
    from ..devices import resolve_device
    from ..training.run import check_minibatch_sizes, check_training_memory
    from ..training.tblog import require_tensorboard

    try:
        check_minibatch_sizes(cfg, sizes_from=None)        # (--resolution 512: the presets have no size there)
        check_training_memory(cfg, resolve_device(cfg.train.device))
        if cfg.train.tensorboard:
            require_tensorboard()
    except WildganError as e:
        return str(e)
    return None


def _cell_of(cfg: RunConfig) -> Cell:
    """The cell a run of a study folder was trained for (read back from its config)."""
    normal, classes = cell_classes(cfg.data.normal)
    return Cell(normal, float(cfg.data.contamination), cfg.method,
                cfg.train.encoder_loss if cfg.method == "wildgan" else "-", int(cfg.train.seed), classes)


def _drop_torn_line(path: Path) -> None:
    """Cut a last line that a killed process left torn (read_rows already ignores it), so that the next row starts on
    a line of its own instead of being glued to the torn bytes and lost with them; a whole last row without its
    newline gets the newline."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        last = data[data.rfind(b"\n") + 1:]
        try:
            json.loads(last)
        except ValueError:
            with open(path, "r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)
            return
        # a whole row that lost only its newline: read_rows counts its cell as done, so it is kept, not cut (its
        # cell would then be in no table until a later run evaluated it again)
        with open(path, "ab") as f:
            f.write(b"\n")


def _scored_with(row: dict[str, Any], cfg: RunConfig, run_dir: Path) -> dict[str, Any]:
    """The score/search settings (config.scoring_settings) `row` was scored with; cfg: its cell's run config under
    this command. A row from before the field records none: it was scored by its cell's config.json (evaluate_run
    scores by it, and it is rewritten only for a cell without a row: by a resume, or by _take_score_settings), which
    is taken rather than the command's settings, which would pass an old row off as scored by them. Without that file
    (the cell's folder deleted), the defaults: every wildgan before the field had today's (ScoreConfig and
    SearchConfig are unchanged since the first commit), and a study could only set others through the Python API."""
    if isinstance(row.get("score_settings"), dict):
        return row["score_settings"]
    if (run_dir / "config.json").is_file():
        return scoring_settings(read_run_config(run_dir))
    return scoring_settings(replace(cfg, score=ScoreConfig(), search=replace(SearchConfig(), seed=cfg.search.seed)))


def _scoring_of(row: dict[str, Any], base: RunConfig, study_dir: Path) -> tuple[str | None, list[str]]:
    """How `row` was computed otherwise than this command (base) computes its cell: (its scoring rules' version,
    when not SCORES_VERSION (a row from before the field: UNRECORDED_SCORES_VERSION's), else None; its score/search
    settings that differ, as 'score.lam: 0.05 -> 0.2': see _scored_with)."""
    version = row.get("scores_version", UNRECORDED_SCORES_VERSION)
    cfg = cell_config(base, row_cell(row))
    changed = scoring_changes(_scored_with(row, cfg, study_dir / "runs" / str(row["cell"])), scoring_settings(cfg))
    return (None if version == SCORES_VERSION else str(version)), changed


def scored_otherwise(rows: list[dict[str, Any]], base: RunConfig, study_dir: Path) -> dict[str, str]:
    """{cell: how} for the rows computed otherwise than this command (base) computes them (_scoring_of): the rows
    that write_tables lists apart instead of pooling."""
    out = {}
    for r in rows:
        _, changed = _scoring_of(r, base, Path(study_dir))
        rules = other_scoring_rules(r)      # (said as the report says it of a study without tables.csv)
        how = ([rules] if rules else []) + changed
        if how:
            out[str(r["cell"])] = "; ".join(how)
    return out


def _drop_rows_of_other_scoring(results: Path, base: RunConfig, keys: set[str], log: Callable[[str], None]) -> None:
    """Remove the rows of the cells `keys` that were computed otherwise than this command computes them: by other
    scoring rules than this wildgan's (SCORES_VERSION; a row from before the field by UNRECORDED_SCORES_VERSION's),
    or with other score/search settings than base's (lam, kappa, the score batch, a search's steps, ...: see
    _scored_with), so that those cells are evaluated again (their networks are kept; evaluation is cheap, training
    is not) rather than skipped, their AUCs pooled with new rows of other formulas or settings. Said once, naming
    what changed; such rows of cells the command does not run are kept, and said to be listed apart from the tables
    (write_tables). The lines that are no rows were named by the command's first read of the file (run_study), and
    their cells are evaluated again."""
    rows = read_rows(results, warn=False)
    versions: set[str] = set()
    changes: list[str] = []
    old = []
    for r in rows:
        version, changed = _scoring_of(r, base, results.parent)
        if version is not None:
            versions.add(version)
        changes += [c for c in changed if c not in changes]
        if version is not None or changed:
            old.append(r)
    if not old:
        return
    redo = [r for r in old if r.get("cell") in keys]
    what = [f"computed by the scoring rules of version {', '.join(sorted(versions))} (this wildgan's are "
            f"{SCORES_VERSION})"] if versions else []
    if changes:
        what.append(f"scored with other settings than this command's ({'; '.join(changes)})")
    # a cell whose run folder is gone (deleted to save space, its row kept) has no networks to evaluate: trained
    # from the start, hours where an evaluation takes minutes, which the log must not pass off as the evaluation
    gone = sum(not _done(results.parent / "runs" / str(r["cell"])) for r in redo)
    said = [f"{len(redo)} of these cells are evaluated again" + (
        f" ({gone} trained again first: {'its' if gone == 1 else 'their'} run folder{'s are' if gone > 1 else ' is'} "
        f"gone)" if gone else "")] if redo else []
    if len(old) > len(redo):
        said.append(f"the {len(old) - len(redo)} of cells this command does not run are kept as they are, listed "
                    f"apart in the tables, not pooled with the new rows (run the study with those cells to evaluate "
                    f"them again)")
    log(f"{results}: {len(old)} row{'s' if len(old) != 1 else ''} {' or '.join(what)}: {'; '.join(said)}")
    if redo:
        # every other line as it is, the ones that are no rows too: read_rows named them, and their owner decides
        with _writing_study_files(results.parent):
            atomic_write_text(results, "".join(text + "\n" for _, text, value in json_lines(results)
                                               if value not in redo))


def _take_score_settings(cfg: RunConfig, run_dir: Path, log: Callable[[str], None]) -> None:
    """Give the trained cell in run_dir the command's score and search sections (cfg's) before it is evaluated: its
    run is scored by its config.json (as `wildgan evaluate` and `report` score it), which holds those of the session
    that trained it. The rest of its config stays as it is (check_study_dir refused other training settings), as a
    resume of the run would rewrite those sections too."""
    first = read_run_config(run_dir)
    if (first.score, first.search) == (cfg.score, cfg.search):
        return                         # (nothing to write: the cell's lock is not taken)
    # under the cell's lock, as every write of a run's config.json: a resume deletes the temp files of those writes
    # that it finds (data.run_temps), which must not be this one's in progress. Read again under it: a resume of the
    # cell between the first read and the lock rewrote config.json, whose other sections this write keeps
    with run_lock(run_dir):
        saved = read_run_config(run_dir)
        changed = scoring_changes(scoring_settings(saved), scoring_settings(cfg))
        if (saved.score, saved.search) != (cfg.score, cfg.search):
            write_run_config(replace(saved, score=cfg.score, search=cfg.search), run_dir)
    if changed:
        log(f"{run_dir}: evaluated with this command's score settings ({'; '.join(changed)}), which its "
            f"config.json now holds")


def _done(run_dir: Path) -> bool:
    return (run_dir / "network-final.json").is_file() or (run_dir / "fanogan-final.json").is_file()


def run_study(base: RunConfig, cells: list[Cell], study_dir: Path, *, progress: bool = True,
              log: Callable[[str], None] = print, cells_checked: bool = False,
              rows_named: bool = False, data_said: Sequence[str] = (), loaded: LoadedData | None = None,
              checked_said: Sequence[str] = (), command: str | None = None) -> list[dict[str, Any]]:
    """Train and evaluate every cell not yet in STUDY_DIR/results.jsonl (one study process per folder, refused if
    the folder holds another configuration, or if any cell to run would fail: see check_cells), then write the
    tables; returns every row. The lines of results.jsonl that are no rows are named first, in one warning
    (read_rows), and not again. cells_checked: the caller has run check_cells on these cells (`wildgan study` does,
    with the data it read for the base config), so the data is not read again for it. rows_named: the caller has
    read results.jsonl with read_rows's warning already (`wildgan study` does, before it reads the data). data_said:
    the wildgan warnings that the caller's own read of the same data showed (`wildgan study` reads it for the base
    config): the cells' read says them again, into each cell's log.txt, but not again on the terminal. loaded: that
    read (load_split_data), handed on to the cells that read the data alike, or converted to their size where that
    is their read byte for byte (data.splits.read_for: an .npz, a tree of small images of one size, read at their own
    size), which then do not read it again; data_said is then what each cell's log.txt is given of the read.
    checked_said: the wildgan warnings the caller's check_cells showed (a contamination's rounding, ...): each cell's
    own split says them again into its log.txt, not on the terminal.

    A log that is a RunLog (the study's log.txt: `wildgan study`'s) gets the lines only a log file needs, not shown:
    a line where this session starts, once the refusals are past (a refused command writes nothing), naming the
    command (`command`: the command line as given; None: 'run_study'), the wildgan version, the cells and how many
    of them are done already; and how a cell's session ended ('stopped: ...', which the error raised says).

    A Ctrl-C or SIGTERM while a cell trains, is read or is evaluated raises errors.TrainingInterrupted (a
    WildganError, so an Exception: its message says how the study continues), not KeyboardInterrupt: a loop over
    studies that goes on after `except Exception` goes on after a Ctrl-C too; catch TrainingInterrupted first to
    stop there."""
    from ..data.dataset_files import labels_needed_by

    # (AUCs need every test image's label: a refusal of damaged labels names mending them, not dataset='unlabelled',
    # which a study refuses: check_study_data. `wildgan study` names itself, run_study to a Python caller)
    # (the 16-bit rule of its cells' reads, their training's and their evaluation's, as its Python caller sets it:
    # by base.data.depth16, run_study having no depth16= of its own)
    with labels_needed_by("study", "run_study"), depth16_keyword_as(STUDY_DEPTH16):
        return _run_study_session(base, cells, study_dir, progress=progress, log=log, cells_checked=cells_checked,
                                  rows_named=rows_named, data_said=data_said, loaded=loaded,
                                  checked_said=checked_said, command=command)


def _run_study_session(base: RunConfig, cells: list[Cell], study_dir: Path, *, progress: bool,
                       log: Callable[[str], None], cells_checked: bool, rows_named: bool, data_said: Sequence[str],
                       loaded: LoadedData | None, checked_said: Sequence[str], command: str | None
                       ) -> list[dict[str, Any]]:
    """run_study's work, within its labels_needed_by."""
    study_dir = check_api_call("run_study", base, "base", study_dir, "study_dir")
    if not isinstance(cells, (list, tuple)):
        raise ConfigError(f"run_study: cells must be a list of Cell, got {type(cells).__name__}")
    for i, c in enumerate(cells):
        if not isinstance(c, Cell):
            # (a class name given for a cell failed as an AttributeError, 'str' object has no attribute 'key')
            raise ConfigError(f"run_study: cells must be Cell objects (wildgan.studies.study.grid makes them), got "
                              f"{type(c).__name__} {c!r:.60} at index {i}")
    # (cells made by hand, not by grid: the second of two such gammas was taken for the first's cell, done, skipped)
    check_gammas([c.gamma for c in cells], "run_study: cells")
    if not rows_named:
        # said before check_cells reads the data (minutes for a large folder) and the first cell trains
        read_rows(study_dir / "results.jsonl")
    drawn = study_base(base, study_dir)
    if drawn.data.contamination_draw != base.data.contamination_draw:
        log(f"{study_dir}: its cells drew their contaminants by the {drawn.data.contamination_draw!r} rule of the "
            f"wildgan that started the study, which its cells keep (new studies draw them nested: a smaller gamma's "
            f"among a larger one's)")
        base = drawn
    check_study_dir(base, cells, study_dir)
    if loaded is not None:
        # as the cells read the data (read_for: converted to their size where that is their read byte for byte); None
        # where read otherwise: each then reads as it wants
        loaded = read_for(cell_config(base, cells[0]).data, loaded) if cells else None
    if not cells_checked:
        check_study_data(base.data.data, base.data.dataset)     # (`wildgan study` asks it before it reads the data)
        if loaded is None and _to_check(cells, study_dir):
            # read here, not in check_cells, and handed on to the cells: they read the data as base does (they differ
            # in what a split selects), so the check's read was a second decode of every image of a folder tree
            read = RunLog()             # (no file: it collects what the read shows, for each cell's log.txt)
            with copying_warnings(read):
                loaded = load_split_data(base.data, progress=progress)
            data_said = [*data_said, *read.warnings_given]
        checked = RunLog()              # (no file: it collects what check_cells shows)
        with copying_warnings(checked):
            check_cells(base, cells, study_dir, progress=progress, loaded=loaded)
        checked_said = [*checked_said, *checked.warnings_given]
    make_folder(study_dir, f"give the study a folder that can be written "
                           f"({option_words('wildgan study --out DIR', 'study_dir=DIR')})",
                label="the study folder")
    # one study process per folder: a second one could evaluate a finished cell again and append a second row
    # --threads for the whole session: the training sets it, but a session that only evaluates cells (their rows lost
    # to a kill) would score at torch's default count, and float sums differ with the count. The caller's count and
    # global RNG (the cells' training seeds it) are put back when the study returns or raises
    with run_lock(study_dir), caller_torch_state_kept(base.train.threads):
        if isinstance(log, RunLog):
            # the sessions of one study folder told apart in its log.txt, by what ran them and from where it went on
            from .. import __version__

            unique = list({c.key: c for c in cells}.values())
            done = len(unique) - len(cells_to_compute(base, unique, study_dir))
            log.write(f"session: {command or 'run_study'} (wildgan {__version__}): {len(unique)} cell"
                      f"{'s' if len(unique) != 1 else ''}, {done} done already")
        return _run_study(base, cells, study_dir, progress=progress, log=log, data_said=data_said, loaded=loaded,
                          checked_said=checked_said)


def _to_check(cells: list[Cell], study_dir: Path) -> bool:
    """Whether check_cells has a cell to check, and so the data to read: one without a row in results.jsonl."""
    done = {r["cell"] for r in read_rows(Path(study_dir) / "results.jsonl", warn=False)}
    return any(c.key not in done for c in cells)


@contextmanager
def _heard_then_shown(shown: set[str], cell_file: RunLog) -> Iterator[list[str]]:
    """A block whose warnings are heard first, then shown: those the caller already showed on the terminal (`shown`)
    only go into the cell's log.txt, the others are shown as before (copying_warnings gives them to the log). The
    filters decide as before: a warning they ignore is not heard, one they make an error raises in the block.
    Yields the list that gets the texts of the wildgan warnings heard, each once, in order."""
    import warnings

    said: list[str] = []
    heard: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as heard:
            yield said
    finally:                            # (those said before a read that fails too)
        for w in heard:
            text = str(w.message)
            if issubclass(w.category, WildganWarning) and text not in said:
                said.append(text)
            if issubclass(w.category, WildganWarning) and text in shown:
                cell_file.warned(text)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _run_study(base: RunConfig, cells: list[Cell], study_dir: Path, *, progress: bool,
               log: Callable[[str], None], data_said: Sequence[str], loaded: LoadedData | None,
               checked_said: Sequence[str]) -> list[dict[str, Any]]:
    results = study_dir / "results.jsonl"
    _remove_killed_writes_temps(study_dir, log)
    _drop_rows_of_other_scoring(results, base, {c.key for c in cells}, log)
    have = {r["cell"] for r in read_rows(results, warn=False)}
    changed = rows_of_other_data(base, study_dir)
    if changed:
        log(f"warning: {changed}")
    # the data set read once for every cell's training and evaluation (each used to read it twice: a plain folder
    # tree, which has no decoded cache, was decoded twice per cell); the cells differ in what a split selects, not
    # in how the data is read, so one read serves them all (another one only where a cell's reading options differ)
    # (or the caller's read, handed on: `loaded`)
    data: list[LoadedData] = [] if loaded is None else [loaded]
    # the wildgan warnings said while data[0] was read (a resize, a centre crop, files left out): they concern every
    # cell that trains on it, but were said in the cell that read it (or by the caller), so each cell's log.txt is
    # given them
    read_said: list[str] = [] if loaded is None else list(dict.fromkeys(data_said))
    # heard first, then shown: what the caller's read of the same data and its check of the cells showed would be
    # shown again on the terminal, a few lines apart, by the cells' read and each cell's split (a contamination's
    # rounding); the cell's log.txt is given them all
    shown = {*data_said, *checked_said}
    fresh = False                       # the tables were written after the last row appended

    def split_of(cfg: RunConfig, cell_file: RunLog) -> AnomalySplit:
        if data:
            for text in read_said:
                cell_file.warned(text)
            try:
                with _heard_then_shown(shown, cell_file):
                    return build_split(cfg.data, loaded=data[0])
            except WildganError:
                # the cell's own refusal (a DataError or ConfigError is a ValueError too): a read again would only
                # refuse it again, after reading the whole data set once more
                raise
            except ValueError:          # read with other options than this cell's: read again, as it wants
                data.clear()
        with _heard_then_shown(shown, cell_file) as said:
            data.append(load_split_data(cfg.data, progress=progress))
        read_said[:] = said             # (filled as the block ends)
        with _heard_then_shown(shown, cell_file):
            return build_split(cfg.data, loaded=data[0])

    # each cell this session trained and evaluated, by method, for the study's ETA (each cell has its own bar): its
    # training and other seconds (reading, evaluation) in this session, and the share of its training done in this
    # session. By method: an f-AnoGAN cell costs other than ours, and one mean over both announced the one at the
    # other's time (the cells' length and size need no key of their own: a study folder holds one configuration)
    cell_times: dict[str, list[tuple[float, float, float]]] = {}
    # the cells earlier sessions finished, by method: the ETA of a method this session has not timed yet (a resumed
    # study said nothing until a cell trained, hours into the paper's schedule)
    earlier: dict[str, list[tuple[float, float, float]]] = {}
    for done in {c.key: c for c in cells if c.key in have}.values():
        took = _earlier_cell_time(study_dir / "runs" / done.key)
        if took is not None:
            earlier.setdefault(done.method, []).append(took)
    for i, cell in enumerate(cells):
        if cell.key in have:
            log(f"[{i + 1}/{len(cells)}] {cell.key}: done, skipped")
            continue
        t_cell = time.monotonic()
        cells_left: dict[str, int] = {}
        for c in {c.key: c for c in cells[i:] if c.key not in have}.values():
            cells_left[c.method] = cells_left.get(c.method, 0) + 1
        cfg = cell_config(base, cell)
        run_dir = study_dir / "runs" / cell.key
        # the cell's own log.txt too, as a `wildgan train` run folder has (how each session went), with the wildgan
        # warnings said while the cell is read, trained and evaluated (those said before its first line held for it)
        cell_file = RunLog(run_dir / "log.txt")

        def cell_log(msg: str, cell_file: RunLog = cell_file) -> None:
            # the cell's file first: the study's log shows the line on the terminal, and a terminal gone (`2>&1 |
            # head`, its BrokenPipeError) must not leave the line out of the cell's log.txt
            cell_file.write(msg)
            log(msg)

        def stop_said(msg: str, cell_file: RunLog = cell_file) -> None:
            # how the cell's session ended: into its log.txt and the study's, not on the terminal, where the error
            # raised says it once (the CLI's `wildgan: ...` line; before, the same words twice, a line apart)
            cell_file.write(msg)
            if isinstance(log, RunLog):
                log.write(msg)

        def stop_as_study(e: BaseException, doing: str, cell: Cell = cell) -> None:
            # an error of the cell, said in the logs; a Ctrl-C or SIGTERM is raised as the study's stop (what
            # stopped and how to continue), any other error goes on up from the caller's bare `raise`
            stopped = _stop_of(e, cell, doing)
            stop_said(f"stopped: {stopped or stop_text(e)}")
            if stopped is not None:
                raise stopped from None

        with copying_warnings(cell_file):
            split = None
            # (a cell trained earlier and only evaluated now takes seconds: no measure of what a cell costs)
            trained_here = not _done(run_dir)
            if trained_here:
                # (check_cells refuses it before any cell trains; this is for a caller that skipped it)
                _refuse_untrained_cell(cfg, cell)
                log(f"[{i + 1}/{len(cells)}] {cell.key}: training{study_eta(cell_times, cells_left, earlier=earlier)}")
                try:
                    split = split_of(cfg, cell_file)
                    resume = (run_dir / "config.json").is_file()
                    seconds_before = _trained_seconds(run_dir) if resume else 0.0
                    t_train = time.monotonic()
                    # (a cell not grown to full resolution is said by its own line once evaluated, below: not twice)
                    trained = train_run(cfg, run_dir, resume=resume, progress=progress, log=cell_log, split=split,
                                        warn_not_grown=False)
                    train_seconds = time.monotonic() - t_train
                    # how the cell's session ended, in its log.txt as `wildgan train` ends a run's (train_run writes
                    # it only into a log.txt of its own): without it the finished cell's session read as one killed
                    # (runlog.last_session_unclosed: `wildgan info` and a resume said it ended abruptly)
                    cell_file.write(trained_line(trained))
                except ConfigError as e:
                    # the advice of train_run to start over (--overwrite, overwrite=True: in the words of the call in
                    # progress, as start_again_words gives them; another --out or run_dir) does not exist here: the
                    # cell's folder is the study's
                    raise e.with_start_again(f"or delete {run_dir} to train this cell again") from None
                except TrainingInterrupted as e:
                    # train's advice (errors.resume_advice) is no way on for a study: the study's own, on screen and in
                    # the log. A stop as training ended (e.complete) left the cell's evaluation undone, not train's
                    # training scores and --evaluate; and the error keeps what the loop's said (where, complete) for
                    # a caller of run_study, as Detector.fit's does
                    stop = TrainingInterrupted(
                        e.message, e.signum, where=e.where, checkpoint_dir=e.checkpoint_dir, complete=e.complete,
                        not_run="the cell's evaluation" if e.not_run else None,
                        resume_advice=_study_again(e.complete))
                    stop_said(f"stopped: {stop}")
                    raise stop from None
                except BaseException as e:
                    stop_as_study(e, "trained")
                    raise
            log(f"[{i + 1}/{len(cells)}] {cell.key}: evaluating")
            try:
                _take_score_settings(cfg, run_dir, cell_log)
                model = load_model(run_dir, cfg.train.device)
                # as `wildgan evaluate` does it, eval.json with the data and run it describes: on the split the cell
                # trained on in this session; for a cell trained earlier, the split rebuilt from the run's record (a
                # change of the data since the cell trained is said, in the cell's log and eval.json)
                # (with the study's progress: its bars, as `wildgan evaluate` shows them; a cell's scoring showed
                # nothing for minutes after its training bar)
                ev = evaluate_run(run_dir, device=cfg.train.device, controls=True, write=True, model=model,
                                  log=cell_log, own_split=split, progress=progress)
            except BaseException as e:
                # the cell's log.txt says how its session ended here too (a Ctrl-C or kill while it was scored), as
                # it does for one stopped in training, and what the same command then does
                stop_as_study(e, "evaluated")
                raise
            split = None                    # (not held while the next cell reads its own)
            info = ev["data"]
            row = {"cell": cell.key, "protocol": info.get("protocol"), "normal": cell.normal,
                   # (the classes themselves where their joined name does not give them back: row_cell)
                   **({"normal_classes": list(cell.classes)} if cell.classes else {}),
                   "gamma": cell.gamma, "method": cell.method, "encoder_loss": cell.encoder_loss, "seed": cell.seed,
                   "auc": ev["auc"], "ap": ev["ap"], "controls": ev["controls"], "controls_ap": ev["controls_ap"],
                   # each AUC's interval over the test images and its paired tests against the controls
                   "auc_ci95": ev.get("auc_ci95"), "auc_vs_controls": ev.get("auc_vs_controls"),
                   "mean_z_norm": ev.get("mean_z_norm"), "other_generator": ev.get("other_generator"),
                   "n_test": ev["n_test"], "n_anomalous": ev["n_anomalous"],
                   "n_train": ev["n_train"], "n_train_anomalous": ev["n_train_anomalous"],
                   "data": cfg.data.data or info.get("source"),   # as recorded: the sample by name, not a path
                   # the set-up the paper's numbers hold for (tables.PAPER_CIFAR_SETUP): not shown beside other ones
                   "resolution": info.get("resolution"), "channels": info.get("channels"),
                   "test_size": info.get("test_size"), "rotations": info.get("rotations"),
                   # no wall-clock time: the same command gives the same rows (a cell's training time, over all its
                   # sessions, is elapsed_s in its network-final.json / fanogan-final.json)
                   "kimg": model.meta.get("kimg"),
                   "preset": cfg.preset, "run_dir": str(run_dir.relative_to(study_dir)),
                    # the score formulas and settings the AUCs are of: a cell whose row has others is evaluated again
                    # (the version only above 1, what a row without it is read as)
                    "score_settings": scoring_settings(model.cfg),
                    **leave_out_defaults({"scores_version": SCORES_VERSION}, SCORES_VERSION_ABSENT)}
            sha = data_sha256(info.get("source_identity"))
            if sha is not None:             # which bytes, beside the path (a path says nothing of what lay there)
                row["data_sha256"] = sha
            # which networks and which code made the AUCs, in the row itself: two studies' rows of one command
            # differ by these alone when another torch, wildgan or thread count trained them (the weights' sha256
            # names the networks, as eval.json's model does: by the one record of networks, networks_record)
            row["weights_sha256"] = networks_record(model.meta)["weights_sha256"]
            versions = model.meta.get("versions") or {}
            row["versions"] = {k: versions[k] for k in ("wildgan", "wildgan_source", "torch") if k in versions}
            if thread_counts(model.meta.get("intra_op_threads")):       # (a list: the sessions of a resumed run)
                row["intra_op_threads"] = model.meta["intra_op_threads"]
            if cell.method == "fanogan":      # f-AnoGAN counts iterations (critic, encoder), not kimg
                row["fanogan_iters"] = [model.meta.get("gan_iters_done"), model.meta.get("enc_iters_done")]
                # and its networks' width (--fanogan-dim), which its AUCs depend on as much as on its iterations
                row["fanogan_dim"] = int(model.cfg.fanogan.dim)
            else:
                # the networks' width and latent size, which --width and --latent-size change under the same preset
                # name: "preset: tiny" alone passed networks of width 8 off as tiny's 16 (the run's recorded net)
                row["width"], row["latent_size"] = int(model.cfg.net.fmap_max), int(model.cfg.net.latent_size)
                # the level of detail scored at: > 0 when the schedule ended before the networks reached full resolution
                row["lod"] = model.lod
                if model.lod > 0:
                    cell_log(f"warning: {cell.key} stopped growing at lod {model.lod:g} (full resolution is lod 0): "
                             f"it is scored at the resolution it reached, below the data's; the tables say so. A "
                             f"longer {option_words('--total-kimg', 'train.total_kimg')} trains the cells to full "
                             f"resolution")
            # append-only, one line per cell, flushed and fsynced: a kill loses at most the cell in progress
            _drop_torn_line(results)
            with open(results, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
                f.flush()
                import os

                os.fsync(f.fileno())
            have.add(cell.key)              # a cell listed twice is evaluated and counted once
            if trained_here:
                cell_seconds = time.monotonic() - t_cell
                share = _session_share(seconds_before, model.meta.get("elapsed_s"))
                # the training loop's own seconds in this session (the run's elapsed_s less the checkpoint's), not
                # train_run's wall time: that also holds its set-up (networks, pyramid, checkpoint reads and
                # writes), paid once a cell, which divided by a small share would make a whole cell look far longer
                loop = _loop_seconds(seconds_before, model.meta.get("elapsed_s"), train_seconds)
                cell_times.setdefault(cell.method, []).append((loop, cell_seconds - loop, share))
            # each method by its own score, as the tables and plot; with the controls, -std Q among them, often the
            # strongest on CIFAR (a cell's a below it says more than one below the untrained networks)
            own = own_score(cell.method)
            log(f"[{i + 1}/{len(cells)}] {cell.key}: AUC {own}={ev['auc'].get(own, float('nan')):.3f} "
                f"(untrained {ev['controls']['untrained'].get(own, float('nan')):.3f}, "
                f"-‖Q‖ {ev['controls']['pixel_norm']:.3f}, -std Q {ev['controls'].get('pixel_std', float('nan')):.3f})")
            # the tables after every row, not only at the end: a study stopped later (Ctrl-C, a kill, a failing cell)
            # would otherwise leave tables.md and the plots of an earlier run beside a results.jsonl with more rows, and
            # `wildgan report` would show those old tables as the study's
            rows = read_rows(results, warn=False)
            write_tables(study_dir, rows, apart=scored_otherwise(rows, base, study_dir))
            fresh = True
    rows = read_rows(results, warn=False)
    if not fresh:                       # every cell was done already: the tables re-made from the rows as they are
        write_tables(study_dir, rows, apart=scored_otherwise(rows, base, study_dir))
    return rows


def study_eta(cell_times: Sequence[tuple[float, float, float]] | Mapping[str, Sequence[tuple[float, float, float]]],
              cells_left: int | Mapping[str, int], *,
              earlier: Mapping[str, Sequence[tuple[float, float, float]]] | None = None) -> str:
    """The study's progress for a cell's "training" line: " (study: about M:SS left for N cells)", the time a whole cell
    takes, from the cells this session trained and evaluated, times the cells left (this one included); "" before
    a cell's training was measured, or with none left.

    By method: `cell_times` {method: its cells' times} and `cells_left` {method: its cells left}; each method's cells
    left are estimated from its own cells (an f-AnoGAN cell may cost ten of ours), and where a method with cells
    left has none measured yet, "": no number rather than one from another method's cells. A sequence and an int are
    one method's.

    earlier: {method: the times of cells that earlier sessions of the study finished} (_earlier_cell_time), taken for
    a method this session has timed no cell of yet, so that a resumed study has an ETA before its first cell trains;
    said so (", from earlier sessions' cells"), as that machine or its load may not be this one's.

    `cell_times`: each such cell's (training seconds, other seconds: reading and evaluation, share of its training
    done in this session). A cell resumed in this session trained a part of its run: 0.2 of a run in 12 s says
    60 s for a whole one, and its 12 s averaged as a whole cell's put the study's ETA at a fraction of the time left.
    So a whole cell is estimated as the training seconds over the shares trained (sum over cells, so that a cell
    with 2% of its run left weighs as little as 2% of one) plus the other seconds, weighed by the same shares."""
    from tqdm import tqdm

    times = cell_times if isinstance(cell_times, Mapping) else {"": cell_times}
    left_by = cells_left if isinstance(cells_left, Mapping) else {"": cells_left}
    n_left = sum(n for n in left_by.values() if n > 0)
    if n_left < 1:
        return ""
    left, from_earlier = 0.0, False
    for method, n in left_by.items():
        if n < 1:
            continue
        per_cell = _per_cell_seconds(times.get(method, ()))
        if per_cell is None:
            per_cell = _per_cell_seconds((earlier or {}).get(method, ()))
            from_earlier = per_cell is not None
        if per_cell is None:
            return ""
        left += per_cell * n
    source = ", from earlier sessions' cells" if from_earlier else ""
    return f" (study: about {tqdm.format_interval(left)} left for {n_left} cell{'s' if n_left > 1 else ''}{source})"


def _per_cell_seconds(cell_times: Sequence[tuple[float, float, float]]) -> float | None:
    """The seconds of a whole cell from cells' (training seconds, other seconds, share trained in the session) (see
    study_eta); None where no training was measured."""
    shares = sum(share for _, _, share in cell_times)
    if shares <= 0:
        return None
    return sum(train + share * other for train, other, share in cell_times) / shares


def _earlier_cell_time(run_dir: Path) -> tuple[float, float, float] | None:
    """A finished cell's time for study_eta, from its files: (its training seconds over all its sessions, the final
    networks' elapsed_s; the seconds its eval.json's scoring took (score_seconds; its reading and controls are not
    recorded, so less than the cell's other seconds); 1.0: the whole run). None where its networks record no
    elapsed_s (an older wildgan's, or a folder deleted or damaged)."""
    from ..checkpoint import read_meta

    for name in ("network-final.json", "fanogan-final.json"):
        if not (run_dir / name).is_file():
            continue
        try:
            trained = float(read_meta(run_dir / name)["elapsed_s"])
        except (CheckpointError, OSError, KeyError, TypeError, ValueError):
            return None
        try:
            scored = float(json.loads((run_dir / EVAL_JSON).read_text(encoding="utf-8"))["score_seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            scored = 0.0
        ok = all(math.isfinite(v) and v >= 0 for v in (trained, scored))
        return (trained, scored, 1.0) if ok and trained > 0 else None
    return None


def _trained_seconds(run_dir: Path) -> float:
    """The training seconds that the checkpoint a resume goes on from records over the run's sessions (pGAN and
    f-AnoGAN checkpoints both record elapsed_s): the newest whose metadata reads, as the resume skips a corrupt newest
    one; 0.0 with none (the resume says what is wrong with them)."""
    from ..checkpoint import list_checkpoints, read_meta

    for path in reversed(list_checkpoints(run_dir / "checkpoints")):
        try:
            return max(0.0, float(read_meta(path).get("elapsed_s", 0.0)))
        except (CheckpointError, OSError, ValueError, TypeError):
            continue
    return 0.0


def _session_share(seconds_before: float, seconds_total: Any) -> float:
    """The share of a run's training done in this session: its training seconds over all sessions (`seconds_total`,
    the final networks' elapsed_s) less those of the sessions before (`seconds_before`, the checkpoint resumed from),
    over the total; 1.0 where the total is not recorded."""
    try:
        total = float(seconds_total)
    except (TypeError, ValueError):
        return 1.0
    if not math.isfinite(total) or total <= 0:
        return 1.0
    return min(1.0, max(0.0, (total - seconds_before) / total))


def _loop_seconds(seconds_before: float, seconds_total: Any, wall_seconds: float) -> float:
    """The training loop's seconds in this session: the final networks' elapsed_s less the checkpoint's, at most the
    wall time of the session's training; that wall time where no elapsed_s is recorded."""
    try:
        total = float(seconds_total)
    except (TypeError, ValueError):
        return wall_seconds
    if not math.isfinite(total) or total <= 0:
        return wall_seconds
    return min(wall_seconds, max(0.0, total - seconds_before))


def _stop_of(e: BaseException, cell: Cell, doing: str) -> TrainingInterrupted | None:
    """A Ctrl-C or SIGTERM (KeyboardInterrupt, Terminated; the CLI's SIGHUP is a Terminated too) that came while
    `cell` was trained outside training's own loop (which says its stops itself) or evaluated, as the study's stop:
    what stopped, where, and how the study continues, which a bare `interrupted` or `terminated (SIGTERM)` did not
    say. None for any other error."""
    if not isinstance(e, (KeyboardInterrupt, Terminated)):
        return None
    signum = int(signal.SIGINT if isinstance(e, KeyboardInterrupt) else e.signum)
    what = stop_words(signum)
    evaluated = doing == "evaluated"
    return TrainingInterrupted(f"{what} while cell {cell.key} was {doing}", signum,
                               where=f"while cell {cell.key} was {doing}", complete=evaluated,
                               resume_advice=_study_again(evaluated))


def _study_again(evaluated: bool) -> str:
    """How a study stopped in a cell continues, in the words of the call in progress: the same `wildgan study`
    command, or for a Python caller the same run_study call (a command told it of a command line it never typed).
    evaluated: the cell's training was done and only its evaluation is left."""
    again = option_words("run the same `wildgan study` command again",
                         "call run_study again with the same base, cells and study_dir")
    return f"to continue, {again} (finished cells are kept, this one {'is evaluated' if evaluated else 'continues'})"


def data_sha256(identity: Any) -> str | None:
    """The sha256 of the bytes a cell's data was read from, as its split's source_identity records it (a file's
    `sha256`, a folder's `content_sha256`), or None where it holds none (images in memory, a source written to while
    it was read, a record from before the field)."""
    if not isinstance(identity, dict):
        return None
    sha = identity.get("sha256") if identity.get("kind") == "file" else identity.get("content_sha256")
    return sha if isinstance(sha, str) else None


def rows_of_other_data(base: RunConfig, study_dir: Path) -> str | None:
    """What to say when the data source the study reads (base's) is not the one that the cells with a row in
    results.jsonl read (each cell's split.json `source_identity`: data.source_identity), or None. Why: a cell with
    its row is not computed again, and a study whose every cell is done does not read the data at all, so the tables
    of data changed in place since (the same path, other pixels) were made from the old data's rows without a word.
    Told without decoding: a file whose size and mtime, or a folder whose listing, are the recorded ones is not even
    read. A cell whose run folder is gone is compared by its row's data_sha256 (the source then hashed, unless a
    recorded identity spares it). Cells recorded without the field, and data that is gone (the rows are what the
    tables need), are not compared."""
    from ..data.readers import data_source_path
    from ..data.source_identity import identity_change, source_identity

    study_dir = Path(study_dir)
    try:
        path = data_source_path(base.data.data, base.data.dataset).resolve()
    except (WildganError, OSError):
        return None
    if not path.exists():
        return None
    rows = read_rows(study_dir / "results.jsonl", warn=False)
    now: dict[str, str | None] = {}            # the change from each recorded identity (most studies have one)
    changed: dict[str, list[str]] = {}
    gone: list[dict[str, Any]] = []            # rows whose run folder (and so split.json) is gone
    recorded: dict[str, Any] | None = None     # a recorded identity, to spare hashing the source where it holds
    for row in rows:
        try:
            info = json.loads((study_dir / "runs" / str(row["cell"]) / "split.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            gone.append(row)
            continue
        was = info.get("source_identity") if isinstance(info, dict) else None
        if not isinstance(was, dict):
            continue
        recorded = recorded or was
        key = json.dumps(was, sort_keys=True)
        if key not in now:
            now[key] = identity_change(was, source_identity(path, known=was))
        if now[key]:
            changed.setdefault(str(now[key]), []).append(str(row["cell"]))
    # a row whose run folder is gone (deleted to save space, its row kept) is pooled as it is with the new cells, as
    # one with its run is: its data_sha256 (the bytes its cell read) is what is left to compare. The source is
    # hashed once, and only where such a row records one (a recorded identity of the same size and mtime, or
    # listing, spares it)
    gone = [r for r in gone if isinstance(r.get("data_sha256"), str)]
    current = data_sha256(source_identity(path, known=recorded)) if gone else None
    if current is not None:
        for row in gone:
            if row["data_sha256"] != current:
                change = f"recorded: sha256 {row['data_sha256'][:12]} (its run folder is gone); now: sha256 " \
                         f"{current[:12]}"
                changed.setdefault(change, []).append(str(row["cell"]))
    if not changed:
        return None
    cells = [c for group in changed.values() for c in group]
    named = ", ".join(cells[:5]) + (f" and {len(cells) - 5} more" if len(cells) > 5 else "")
    states = (f"; those cells recorded it in {len(changed)} different states, the first: " if len(changed) > 1
              else "; ")
    return (f"{path} is not the data that {len(cells)} of the {len(rows)} cells with a row in "
            f"{study_dir / 'results.jsonl'} read ({named}{states}{next(iter(changed))}): their rows, and the tables "
            f"made from them, are of the data as those cells read it, not as it is now (a cell with its row is not "
            f"computed again). To study the data as it is now, run the study into a new {out_words('study')}; to "
            f"evaluate those "
            f"cells' networks, trained on the data as it was, on the data as it is now, delete their lines from "
            f"results.jsonl and run the study again")


def write_tables(study_dir: Path, rows: list[dict[str, Any]], apart: dict[str, str] | None = None) -> None:
    """tables.md (the paper's tables, with controls) and tables.csv from the result rows, and the AUC-versus-gamma
    plots. apart: {cell: how} for the rows computed otherwise than the others (scored_otherwise: other scoring rules
    or score/search settings than the study command's), which the tables and plots do not pool with the others:
    tables.md lists them apart, tables.csv marks them (render_markdown, render_csv). The paired comparisons between
    the methods' cells of the pooled rows (method_comparisons) go into comparisons.jsonl, comparisons.csv and a section
    of tables.md."""
    apart = apart or {}
    pooled = [r for r in rows if str(r["cell"]) not in apart]
    comparisons = method_comparisons(study_dir, pooled, read_comparisons(study_dir / COMPARISONS))
    # (holding the folder: a caller of this function holds no study lock, and its temp files must not be taken for
    # a killed study's, which a study's start deletes: _remove_killed_writes_temps)
    with _writing_study_files(study_dir):
        if comparisons or (study_dir / COMPARISONS).is_file():
            atomic_write_text(study_dir / COMPARISONS, "".join(json.dumps(c) + "\n" for c in comparisons))
            atomic_write_text(study_dir / "comparisons.csv", render_comparisons_csv(pooled, comparisons))
        atomic_write_text(study_dir / "tables.md", render_markdown(rows, apart, comparisons))
        atomic_write_text(study_dir / "tables.csv", render_csv(rows, apart))
    drawn: list[Path] = []
    if pooled:
        from ..evaluation.plots import gamma_figures

        # one curve per method over every cell, and, when the study has several normal classes, a figure per class
        # too (the pooled one mixes classes whose AUCs differ far more than seeds do); each curve, the controls too,
        # with the 95% band of its mean (gamma_curves.mean_interval): the figures the report draws for a study that
        # left none are these
        figures = gamma_plots(pooled)
        gamma_figures(study_dir, figures)
        drawn = [study_dir / f.name for f in figures]
    _remove_stale_figures(study_dir, drawn)


def _remove_stale_figures(study_dir: Path, drawn: Sequence[Path]) -> None:
    """Delete the study's AUC-versus-gamma figures (training.run.is_study_file's auc_vs_gamma*.png at its top) that
    this drawing did not write again. A class whose file name changed (gamma_curves.gamma_plots: 'cat' is
    auc_vs_gamma-normal-cat-2.png beside a class 'Cat', where an older wildgan drew it into ...-normal-cat.png), or
    whose rows left the pool (computed otherwise, or dropped), kept its old figure, of old curves: the report copies
    every figure of the folder, and showed it beside the new one as the study's. Compared as files, not names: on a
    case-blind disk ...-normal-Cat.png is drawn into the folder's ...-normal-cat.png, which is then no stale one."""
    def key(p: Path) -> tuple[int, int]:
        st = p.stat()
        return st.st_dev, st.st_ino

    kept = {key(p) for p in drawn if p.is_file()}
    for p in Path(study_dir).glob("auc_vs_gamma*.png"):
        if (p.name == "auc_vs_gamma.png" or p.name.startswith("auc_vs_gamma-")) and p.is_file() and \
                not p.is_symlink() and key(p) not in kept:
            p.unlink(missing_ok=True)


def score_views(study_dir: Path, scores: Sequence[str]) -> list[StudyScoreView]:
    """The study report's sections of the chosen scores (evaluation.report.StudyScoreView), one per score: the
    AUC-versus-gamma figure of that score for every method (and one per normal set when there are several), with
    its controls (each method's untrained networks of that score, the pixel statistics) and its cells' intervals,
    and Table 2's lines of that score (tables.score_table), from results.jsonl alone: nothing is scored again. The
    study's own plot and tables.md show each method's own score (a; f-AnoGAN's A); this one, e.g. the plain residual
    L_r, compares the methods on one formula. Pooled as tables.md pools them: rows that tables.csv marks computed
    otherwise are left out (evaluation.rows.tables_pool; without tables.csv, those of other scoring rules, and rows
    of several score settings are refused, as the report's own figures refuse them), said in a note.

    Refused with a ConfigError, before anything is drawn or written, for an unknown score, a folder without result
    rows, and a score that some method's rows do not hold (their curve would be missing without a word): the
    error names the score, the methods and cells lacking it, and the scores every method's rows hold."""
    from ..config import SCORE_NAMES, as_typed, nearest_name
    from ..evaluation.report import StudyScoreView
    from .tables import METHOD_NAMES, rows_lacking, score_table

    study_dir = Path(study_dir)
    results = study_dir / "results.jsonl"
    unknown = [s for s in scores if s not in SCORE_NAMES]
    if unknown or not scores:
        said = ", ".join(as_typed(s) + (f" (did you mean {m}?)" if (m := nearest_name(s, SCORE_NAMES)) else "")
                         for s in unknown)
        raise ConfigError(f"unknown score {said or '(none given)'}: choose one or more of "
                          f"{', '.join(SCORE_NAMES)} (higher = more anomalous)")
    if not results.is_file():
        raise ConfigError(f"{study_dir}: no results.jsonl, so no study rows to draw a score of (a study folder holds "
                          f"one once its first cell is evaluated)")
    rows = read_rows(results, warn=False)      # (the report names its lines that are no rows)
    # the rows tables.md pools, by the one selection the report's own figures make (rows.tables_pool)
    pool = tables_pool(study_dir, rows)
    pooled = pool.pooled
    undecided = pool.undecided()
    if undecided:
        # as the report's own figures (the same rule, tables_pool): a mean over rows of two score settings is no
        # curve of the study's, and which of them it pools, only its tables.csv (or its command) says
        raise ConfigError(f"{results}: no section of score {', '.join(dict.fromkeys(scores))} is drawn: {undecided}. "
                          f"Run the study command again (its finished cells are skipped) to make its tables, then "
                          f"the report")
    if not pooled:
        raise ConfigError(f"{results}: no result rows {'pooled by the tables ' if rows else ''}to draw score "
                          f"{scores[0]} of")
    for s in dict.fromkeys(scores):
        lacking = rows_lacking(pooled, s)
        if lacking:
            counts = {m: sum(r["method"] == m for r in pooled) for m in lacking}
            held = [t for t in SCORE_NAMES if not rows_lacking(pooled, t)]
            who = "; ".join(f"{METHOD_NAMES.get(m, m)} ({len(c)} of its {counts[m]} cells, e.g. {c[0]})"
                            for m, c in lacking.items())
            raise ConfigError(f"score {s}: the rows of {results} hold no {s} AUC for {who}, so its figure and table "
                              f"would leave those cells out; choose a score every method's rows hold ("
                              f"{', '.join(held) or 'none: the rows share no score'})")
    classes = sorted({(r.get("protocol"), str(r["normal"])) for r in pooled}, key=str)
    said = pool.note("this section")
    notes: tuple[str, ...] = (said,) if said else ()
    views = []
    for s in dict.fromkeys(scores):
        tables = []
        for protocol, normal in classes:
            sub = [r for r in pooled if (r.get("protocol"), str(r["normal"])) == (protocol, normal)]
            tables.append((f"{protocol}, normal = {normal}: Table 2 layout, score {s}", *score_table(sub, s)))
        views.append(StudyScoreView(s, tuple(gamma_plots(pooled, s)), tuple(tables), notes))
    return views


def score_report(study_dir: Path, scores: Sequence[str], *, log: Callable[[str], None] | None = None) -> Path:
    """The study's report (evaluation.report.study_report: STUDY_DIR/report/report.html and report.md) with a
    section per score of `scores` first (score_views: every method's AUC of that score against gamma, with the
    controls, and its table), as `wildgan report STUDY_DIR --score L_r` writes it. Returns report.html's path."""
    from ..evaluation.report import report

    views = score_views(study_dir, scores)
    return report(study_dir, study_views=views, log=log or (lambda msg: None))


# the paired tests between the cells of one (protocol, normal, gamma, seed), beside results.jsonl: kept, so that
# tables.md is re-made from the study's files alone, and a pair is tested once, not again at every row
COMPARISONS = "comparisons.jsonl"
# the study folder's files written whole (fileio's atomic writes: a temp file beside each, renamed over it), whose
# writes hold the folder (_writing_study_files); results.jsonl's rows are appended, and it is rewritten whole only to
# drop rows (_drop_rows_of_other_scoring)
STUDY_WRITTEN = ("results.jsonl", COMPARISONS, "comparisons.csv", "tables.md", "tables.csv")


@contextmanager
def _writing_study_files(study_dir: Path) -> Iterator[list[Path]]:
    """Hold study_dir for the block as every write of STUDY_WRITTEN does (fileio.writing_temps), deleting first, where
    no other process writes one of them there, the temp files of such writes that a killed process left; yields
    what was deleted. write_tables, a public function, is called without the study's lock: this hold, not that lock,
    tells its temp files from a killed study's."""
    with writing_temps(Path(study_dir), lambda: temp_files(Path(study_dir), STUDY_WRITTEN)) as gone:
        yield gone


def _remove_killed_writes_temps(study_dir: Path, log: Callable[[str], None]) -> list[Path]:
    """Delete the temp files of STUDY_WRITTEN that a study or write_tables killed between the temp file and the rename
    left (a kill runs no clean-up), where no write of them holds the folder now, and say so in one line; returns what
    was deleted. (A cell's run folder has its own: its resume deletes them, data.run_temps.) On a file system whose
    folder locks hold on this machine only (fileio.host_only_locks: NFS, SMB, sshfs, ...) none is deleted, as a
    write on another machine may own it: those there are said instead (_kept_on_a_network_folder), since nothing
    else names them (`wildgan info` reads a run, not a study) and each killed write adds one."""
    with _writing_study_files(study_dir) as gone:
        pass
    if gone:
        log(f"removed {len(gone)} temporary file{'s' if len(gone) > 1 else ''} that "
            f"{'writes' if len(gone) > 1 else 'a write'} killed before {'their' if len(gone) > 1 else 'its'} rename "
            f"left in {study_dir}: {', '.join(p.name for p in gone)}")
    else:
        kept = _kept_on_a_network_folder(study_dir)
        if kept:
            log(kept)
    return gone


def _kept_on_a_network_folder(study_dir: Path) -> str:
    """The words for the temp files of STUDY_WRITTEN in study_dir where its file system's folder locks hold on this
    machine only (fileio.host_only_locks), which a study's start leaves there: why (a killed write's, or another
    machine's write in progress: nothing tells which) and the command that deletes them once no machine writes
    there; "" where there are none, or the folder's locks reach every writer (there a study's start deletes them).
    The writers are named as docs/cli.md names them, write_tables too: it takes no study lock, and on NFS, whose
    server holds the study's lock, a study on another machine is refused, so write_tables may be the one there."""
    fs = host_only_locks(study_dir)
    kept = temp_files(study_dir, STUDY_WRITTEN) if fs else []
    if not kept:
        return ""
    one = len(kept) == 1
    them = "it" if one else "them"
    return (f"left {len(kept)} temporary file{'' if one else 's'} of the study's writes in {study_dir} "
            f"({', '.join(p.name for p in kept)}): {'a write' if one else 'writes'} killed before "
            f"{'its' if one else 'their'} rename left {them}, or a study or studies.write_tables on another "
            f"machine is writing {them} now: the folder is on {fs}, whose folder locks hold on this machine only, "
            f"so nothing tells which, and nothing of wildgan's deletes {them} there; delete {them} by hand once no "
            f"study or studies.write_tables on any machine writes into the study folder: "
            f"rm {' '.join(shell_word(p) for p in kept)}")


# how far the AUC of a score read back from a cell's test_scores.csv (9 significant digits) may lie from its row's
COMPARISON_AUC_TOLERANCE = 1e-6


def read_comparisons(path: Path) -> list[dict[str, Any]]:
    """The entries of a study's comparisons.jsonl ([] without one); a line that is no JSON object is left out: the
    pair is tested again (method_comparisons), from the cells' kept scores."""
    return [v for _, _, v in json_lines(path) if isinstance(v, dict)] if Path(path).is_file() else []


def compared_scores(first: str, second: str) -> list[tuple[str, str]]:
    """The (first's score, second's score) a pair of cells of these methods is compared on: each method's own score
    (config.own_score: f-AnoGAN's A, else a), and ours' L_r too against another method: the reconstruction-only
    score, which tells whether what a method gains is its reconstruction or the paper's latent terms."""
    pairs = [(own_score(first), own_score(second))]
    if first == "wildgan" and second != "wildgan":
        pairs.append(("L_r", own_score(second)))
    return pairs


def method_comparisons(study_dir: Path, rows: list[dict[str, Any]],
                       kept: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every paired comparison between the cells of `rows` that share protocol, normal set, gamma and seed (two
    methods, or both encoder losses of ours), on their test images (compared_scores), by
    evaluation.metrics.auc_difference: {protocol, normal, gamma, seed, first, second (cells), first_score,
    second_score, first_auc, second_auc (the rows'), n_test, diff, se, p, test}, first the cell the tables rank first.

    Why from the kept scores (each cell's test_scores.csv) and not in the rows: a cell's row is made before the other
    methods' cells of its seed may be, and a study may be extended by a method later; here every pair of rows is
    tested whatever order the cells finished in. An entry of `kept` (the study's comparisons.jsonl) is taken as it is
    while it holds for the rows (tables.comparison_holds: both rows' AUCs are the recorded ones), so a pair is tested
    once, and its test outlives a run folder deleted to save space; a cell evaluated again is tested again.
    A pair that cannot be tested has 'not_compared' instead of the numbers, saying why: the cells' test images differ
    (their test_scores.csv ids or labels: other data, another test split), or a cell's scores are not kept, or are
    not those of its row (its test_scores.csv written by a later evaluation). Such an entry records, as 'tried', the
    state of both cells' test_scores.csv when it was tried (_scores_state: size, mtime, inode, or null for a file
    that was not there), and is tried again only once one of them differs: a cell's scores may come back, or its
    test_scores.csv be its row's again, but a pair whose files are as they were would fail alike, and trying it again
    read both files at every row a study wrote."""
    by_cell = {str(r["cell"]): r for r in rows}
    old = {(c["first"], c["second"], c["first_score"], c["second_score"]): c for c in kept
           if comparison_holds(c, by_cell)}
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((str(r.get("protocol")), str(r["normal"]), float(r["gamma"]), int(r["seed"])), []).append(r)
    read: dict[str, Any] = {}               # each cell's test_scores.csv read once: (ids, labels, scores) or why not
    out = []
    for key in sorted(groups):
        cells = sorted(groups[key], key=cell_rank)
        for i, x in enumerate(cells):
            for y in cells[i + 1:]:
                for sx, sy in compared_scores(x["method"], y["method"]):
                    ax, ay = x["auc"].get(sx), y["auc"].get(sy)
                    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (ax, ay)):
                        continue            # (an AUC undefined: one class in the test set)
                    c = old.get((x["cell"], y["cell"], sx, sy))
                    entry = _entry(x, y, sx, sy)
                    if c is not None and c.get("not_compared"):
                        sound = _kept_untried(c, entry, _scores_state(study_dir, x, y))
                    else:
                        sound = _kept_sound(c, entry)
                    out.append(c if sound else _compare(study_dir, x, y, sx, sy, read))
    return out


def _entry(x: dict[str, Any], y: dict[str, Any], sx: str, sy: str) -> dict[str, Any]:
    """What a comparison of cells x and y (rows) on scores sx and sy says of them, before its test."""
    return {"protocol": x.get("protocol"), "normal": x["normal"], "gamma": x["gamma"], "seed": x["seed"],
            "first": x["cell"], "second": y["cell"], "first_score": sx, "second_score": sy,
            "first_auc": x["auc"][sx], "second_auc": y["auc"][sy]}


def _kept_sound(c: dict[str, Any] | None, entry: dict[str, Any]) -> bool:
    """Whether a kept comparison can be taken as it is: it says what `entry` says of its cells, and its test's numbers
    are numbers (or null). A line edited by hand or written by another tool (its gamma gone, its diff a word) is
    tested again: taken as it was, it broke the tables, and with them the study, after the next cell."""
    if c is None or any(c.get(k) != v for k, v in entry.items()):
        return False
    return (isinstance(c.get("n_test"), int) and isinstance(c.get("test"), str)
            and all(c.get(k) is None or (isinstance(c.get(k), (int, float)) and not isinstance(c.get(k), bool))
                    for k in ("diff", "se", "p")))


def _kept_untried(c: dict[str, Any], entry: dict[str, Any], state: dict[str, Any]) -> bool:
    """Whether a kept 'not_compared' entry stands as it is: it says what `entry` says of its cells, says why in
    words, and was tried on the cells' test_scores.csv as they are now (`state`, _scores_state). An entry from before
    'tried' was recorded, or edited by hand, is tried again (once: it then records it)."""
    return (all(c.get(k) == v for k, v in entry.items()) and isinstance(c.get("not_compared"), str)
            and c.get("tried") == state)


def _scores_file(study_dir: Path, r: dict[str, Any]) -> Path:
    """The test_scores.csv of a row's cell: in its run_dir, or runs/CELL for a row from before the field."""
    return Path(study_dir) / str(r.get("run_dir") or Path("runs") / str(r["cell"])) / SCORES_CSV


def _scores_state(study_dir: Path, x: dict[str, Any], y: dict[str, Any]) -> dict[str, Any]:
    """{x's cell, y's cell: [size, mtime_ns, inode] of its test_scores.csv, or None where there is none}: what a
    'not_compared' entry was tried on. Asked of the file system only, never read:
    a file written again (evaluate, an atomic replace: another inode), put back or deleted differs in one of them.
    (A file rewritten in place with the same size within the file system's mtime step is the one change missed: an
    evaluation writes test_scores.csv by replacing it.)"""
    out: dict[str, Any] = {}
    for r in (x, y):
        try:
            st = _scores_file(study_dir, r).stat()
        except OSError:
            out[str(r["cell"])] = None
            continue
        out[str(r["cell"])] = [st.st_size, st.st_mtime_ns, st.st_ino]
    return out


def _compare(study_dir: Path, x: dict[str, Any], y: dict[str, Any], sx: str, sy: str,
             read: dict[str, Any]) -> dict[str, Any]:
    """method_comparisons's entry for cells x and y (rows) on scores sx and sy; one not compared records what it
    was tried on ('tried': _scores_state, taken before the files are read, so that a file changed while it was read
    is tried again next time)."""
    from ..evaluation.metrics import auc_difference, roc_auc

    entry = _entry(x, y, sx, sy)
    untried = {**entry, "tried": _scores_state(study_dir, x, y)}
    got = []
    for r, s in ((x, sx), (y, sy)):
        cell = str(r["cell"])
        if cell not in read:
            read[cell] = _test_scores(_scores_file(study_dir, r).parent)
        scores = read[cell]
        if isinstance(scores, str):
            return {**untried, "not_compared": f"{cell}: {scores}"}
        ids, labels, by_score = scores
        # (not `> tolerance`: a nan read back, a damaged value's AUC, passed that and gave a test of null numbers)
        if s not in by_score or not abs(roc_auc(labels, by_score[s]) - r["auc"][s]) <= COMPARISON_AUC_TOLERANCE:
            return {**untried, "not_compared": f"{cell}: its test_scores.csv does not hold the {s} scores of its row "
                                               f"(evaluated again since its row was made?)"}
        got.append(scores)
    (ids_x, lab_x, sc_x), (ids_y, lab_y, sc_y) = got
    if ids_x != ids_y:
        where = {v: i for i, v in enumerate(ids_y)}
        if len(where) != len(ids_y) or set(where) != set(ids_x):
            common = len(set(ids_x) & set(ids_y))
            return {**untried, "not_compared": f"their test images differ ({len(ids_x)} and {len(ids_y)} images, "
                                               f"{common} in common)"}
        order = np.array([where[v] for v in ids_x])          # the same images in another order: lined up
        lab_y, sc_y = lab_y[order], {k: v[order] for k, v in sc_y.items()}
    if not np.array_equal(lab_x, lab_y):
        return {**untried, "not_compared": "their test images are labelled differently"}
    test = auc_difference(lab_x, sc_x[sx], sc_y[sy])
    # (JSON has no nan: an undefined number is null, as in eval.json)
    return {**entry, "n_test": len(ids_x), **{k: v if isinstance(v, str) or math.isfinite(v) else None
                                              for k, v in test.items()}}


def _test_scores(run_dir: Path) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]] | str:
    """(ids, labels, {score: values}) of a run's test_scores.csv, or why there are none."""
    import csv

    path = run_dir / SCORES_CSV
    try:
        with open(path, newline="", encoding="utf-8") as f:
            table = list(csv.reader(f))
        header, body = table[0], table[1:]
        if header[:2] != ["id", "label"]:
            return f"{path} has no id and label columns"
        ids = [line[0] for line in body]
        labels = np.array([int(line[1]) for line in body])
        # (the `class` column, each image's class name, is no score)
        scores = {name: np.array([float(line[j]) for line in body]) for j, name in enumerate(header)
                  if j >= 2 and name != "class"}
    except FileNotFoundError:
        return f"its scores are not kept ({path} is gone)"
    except (OSError, ValueError, IndexError) as e:
        return f"{path} cannot be read ({e})"
    return ids, labels, scores
