"""`wildgan study`: the paper's contamination study, a resumable grid of cells (normal classes x gammas x methods x
encoder losses x seeds)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import MAX_SEED, as_typed, percent_hint
from ..errors import ConfigError, stop_text
from ..fileio import check_can_make_folder
from ..runlog import RunLog, copying_warnings
from .common import (WRITABLE_OUT, counted, csv_list, data_path_if_valid, eprint, log_to, refuse_missing_data, warn,
                     write_stdout)
from .config_args import (asked_data_config, build_run_config, check_options_before_data, data_config_from_args,
                          run_config_for_shape)

if TYPE_CHECKING:  # types only: the CLI imports torch-heavy modules lazily, inside the commands
    from ..config import RunConfig
    from ..data import LoadedData


def cmd_study(a: argparse.Namespace) -> int:
    study_log = log_to(Path(a.out))
    # every wildgan warning said during the command into the study's log.txt too (those about the data, read before
    # the study writes its folder, held until its first line); each cell's log.txt has those said while it ran
    # (studies.study._run_study)
    from ..data.dataset_files import labels_needed_by

    # (AUCs need every test image's label: a refusal of damaged labels names mending them, not --dataset unlabelled,
    # which a study refuses: check_study_data)
    with copying_warnings(study_log), labels_needed_by("study"), _fanogan_sizes(a):
        return _study(a, study_log)


def _fanogan_sizes(a: argparse.Namespace) -> AbstractContextManager[None]:
    """The block of a study with fanogan cells: the word of the automatic resolution's enlargement advises only a
    resolution f-AnoGAN's networks take (32 or 64; data.imageset.resolutions_taken), which every cell then trains,
    where --resolution 16 would be refused by the fanogan cells' check. (--methods as typed: a bad one is refused
    by _study, in its words.)"""
    from ..data.imageset import FANOGAN_SIZES, resolutions_taken

    methods = [m.strip() for m in str(getattr(a, "methods", "")).split(",")]
    return resolutions_taken(*FANOGAN_SIZES) if "fanogan" in methods else nullcontext()


def _normal_cells(text: str | tuple[str, ...]) -> list[str | tuple[str, ...]]:
    """A study's --normal: one cell per comma-separated entry, its classes joined by + (as train's --normal a,b). A
    tuple (a config file's list, one of whose classes holds a comma: config_args._class_names_option) is the entries
    themselves. A cell with a class whose name holds a comma is the tuple of its classes (grid)."""
    cells: list[str | tuple[str, ...]] = []
    for n in (list(text) if isinstance(text, tuple) else csv_list(text, str, "--normal")):
        classes = [c.strip() for c in n.split("+")]
        if not all(classes):
            # ('0+' made a cell of normal classes 0 and '', refused by the cell check as "class '' does not exist")
            raise ConfigError(f"--normal {as_typed(text)}: {as_typed(n)} names an empty class; join one cell's classes "
                              f"with + (e.g. 0+1) and separate cells with commas")
        cells.append(tuple(classes) if any("," in c for c in classes) else ",".join(classes))
    return cells


def _one_class_cells(classes: list[str] | None) -> list[tuple[str, ...]] | None:
    """--normal all's cells: one per class, each its one-class tuple (grid), so that a class whose name holds a comma
    is one class, not the classes its name would split into."""
    return None if classes is None else [(c,) for c in classes]


def _check_g_image_loss(a: argparse.Namespace, methods: list[str], encs: list[str]) -> None:
    """--g-image-loss W (d_I in G's loss) against the grid, before the data is decoded: it needs the encoder trained
    with d_I, so the d_z cells of --encoder-loss ...,latent are refused in train's words (a base config of the first
    loss alone refused them only when their cell was built); a study without wildgan cells is told it is unused, as
    train's other methods are (the baselines' cells record 0: studies.study.cell_config)."""
    w = getattr(a, "g_image_loss", 0.0)
    if not w or w < 0:
        return          # (0: off; a negative value is refused by the base config's check, in train's words)
    if "wildgan" not in methods:
        warn(f"warning: --g-image-loss does not apply to --methods {','.join(methods)} (it is the wildgan cells'): "
             f"ignored")
    elif "latent" in encs:
        from ..config import G_IMAGE_LOSS_ENCODER_WORDS, combined_settings

        e = combined_settings(G_IMAGE_LOSS_ENCODER_WORDS, ("--g-image-loss", "train.g_image_loss", f"{w:g}", w),
                              ("--encoder-loss", "train.encoder_loss", "latent", "latent"))
        raise ConfigError(f"{e} (the d_z cells of --encoder-loss {','.join(encs)}): study d_I in G's loss with "
                          f"--encoder-loss image, and the d_z ablation in a study without --g-image-loss")


def _study(a: argparse.Namespace, study_log: RunLog) -> int:
    from ..data import load_split_data
    from ..data.splits import read_for, with_protocol_shape
    from ..studies import cell_config, check_cells, grid, read_rows
    from ..studies.study import (check_gammas, check_study_data, check_study_dir, check_study_out_dir, first_kept_class,
                                listed_default_cell, listed_study_classes, study_base)
    from ..training.run import check_lock_free

    gammas = csv_list(a.contamination, float, "--contamination")
    for g in gammas:
        if not 0.0 <= g < 1.0:
            # a percentage (2 for 2%) is the likely slip: the fraction it means said, which the bare range did not
            hint = percent_hint(g, "a fraction of the training set")
            raise ConfigError(f"--contamination: each gamma must be in [0, 1), got {g:g}{hint}")
    check_gammas(gammas)                # (before the data is read: grid would refuse them only then)
    seeds = csv_list(a.seeds, int, "--seeds")
    for s in seeds:
        # (each cell's config would refuse it as --seed, an option a study does not have)
        if not 0 <= s <= MAX_SEED:
            raise ConfigError(f"--seeds: each seed must be a whole number from 0 to 2**64 - 2, got {s}")
    methods = csv_list(a.methods, str, "--methods")
    for m in methods:
        if m not in ("wildgan", "fanogan", "search"):
            raise ConfigError(f"unknown method {as_typed(m)} in --methods; choose from wildgan, fanogan, search")
    encs = csv_list(a.encoder_loss, str, "--encoder-loss")
    for e in encs:
        if e not in ("image", "latent"):
            raise ConfigError(f"unknown encoder loss {as_typed(e)} in --encoder-loss; choose from image, latent")
    _check_g_image_loss(a, methods, encs)
    # what --out alone refuses, before the data is decoded (as train's check_out_dir); run_study's check_study_dir
    # adds what needs the base config, whose resolution and channels come from the data. A folder another study
    # process holds first; run_study's lock on it stays the guarantee.
    check_lock_free(Path(a.out))
    check_study_out_dir(Path(a.out), data_path_if_valid(a))
    check_can_make_folder(a.out, WRITABLE_OUT, label="--out")
    if not (Path(a.out) / "results.jsonl").is_file():
        # (a study with records may need no data: its finished cells' tables are made from them, below)
        refuse_missing_data(a)
    check_study_data(a.data, a.dataset)
    # the lines of its results.jsonl that are no rows named now, before the data is decoded (minutes for a large
    # folder) and the cells train (hours), and only now in this command (run_study's rows_named)
    read_rows(Path(a.out) / "results.jsonl")
    # one base config (first normal class, gamma 0) resolves resolution/channels and the schedule
    study_cells = None if a.normal in (None, "all") else _normal_cells(a.normal)
    first = None if study_cells is None else study_cells[0]
    ns = argparse.Namespace(**{**vars(a), "contamination": 0.0, "seed": seeds[0], "method": "wildgan",
                               "encoder_loss": encs[0], "normal": first})
    # the base config's refusals of the options' values (--lr -1, --gp-target nan, ...) before the data is decoded
    # (minutes for a large folder) or its labels listed: build_run_config below said them only once it was read
    check_options_before_data(ns)
    # one one-vs-rest cell per class; classes joined by + make one cell with several normal classes (as `train
    # --normal a,b` does). --normal all, or none (the protocol's default): the classes as the data's labels give
    # them, without decoding its images (data.splits.list_data), where a finished study's cells may need no more
    # (--normal all: each class a one-class tuple, its name as the data gives it, not a comma list to split again:
    # a class 'a,b' is one class, to grid's cells and to data_config_from_args)
    known = (study_cells if study_cells is not None
             else _one_class_cells(listed_study_classes(asked_data_config(ns), Path(a.out))) if a.normal == "all"
             else listed_default_cell(asked_data_config(ns), Path(a.out), log=warn))
    if known:
        cells = grid(known, gammas, methods, encs, seeds)
        base = _finished_study_config(argparse.Namespace(**{**vars(ns), "normal": known[0]}), cells, Path(a.out))
        if base is not None:
            # every cell done: run_study only re-makes the tables from results.jsonl (each row holds its cell's AUCs
            # and controls), which a full decode of the data (minutes for CIFAR-10's JPEGs) would only delay. Its
            # refusals of other settings come first, so that "every one done" is not said of a study then refused
            check_study_dir(study_base(base, Path(a.out)), cells, Path(a.out))
            eprint(f"study: {counted(len(cells), 'cell')} -> {a.out}, every one done: the tables are made again from "
                   f"{Path(a.out) / 'results.jsonl'} (the images are not decoded)")
            return _run_the_study(a, base, cells, study_log)
    # a --data that names nothing is refused naming --data now that it is to be read, if not before: a study whose
    # cells are all done makes its tables from its records, its data moved away or not (above)
    refuse_missing_data(a)
    # the data set is read once: for the base config, the class names of --normal all, every cell's check, and the
    # cells' training. The cells read at the resolution and channels the base config finds; where the data's labels
    # already tell them (CIFAR-10's 32x32 RGB, chula-rbc12's 64x64 gray), it is read at those in the first place, so
    # that the cells take this read (before, a folder tree was decoded a second time for the cells)
    unsized = argparse.Namespace(**vars(ns))
    sized, protocol = with_protocol_shape(data_config_from_args(ns))
    ns.resolution, ns.channels = sized.resolution, sized.channels
    read_log = RunLog()     # (no file: it collects what the read shows, which each cell's log.txt is given)
    with copying_warnings(read_log):
        loaded = load_split_data(sized, progress=not a.no_progress)
    if a.normal == "all":
        # the base config's normal class: the first one not excluded (the first class itself, when excluded, made
        # every `--normal all --exclude FIRST` a "both normal and excluded" error)
        # (as a one-class tuple: the name as the data gives it, which the comma list's split and strip changed)
        ns.normal = unsized.normal = (first_kept_class(loaded.train.class_names,
                                                       data_config_from_args(ns).exclude_classes, str(a.data)),)
    # (what the base config's split says of the data, e.g. its images labelled -1 left out, is said again by every
    # split the data makes: the check of the cells and each cell say it only where this has not, which said it twice)
    base_log = RunLog()
    with copying_warnings(base_log):
        base, split = build_run_config(ns, loaded=loaded)
    if protocol is not None and split.info["protocol"] != protocol:
        # (the labels told another protocol than the images: read as before, at the size the data gives)
        ns, loaded = unsized, None
        with copying_warnings(read_log):
            loaded = load_split_data(data_config_from_args(ns), progress=not a.no_progress)
        with copying_warnings(base_log):
            base, split = build_run_config(ns, loaded=loaded)
    normals: list[tuple[str, ...]] = []
    if a.normal == "all":
        normals = _one_class_cells([n for n in split.info["class_names"]
                                    if n not in split.info.get("excluded_classes", [])]) or []
    elif a.normal is None:
        # the protocol's default normal set (e.g. chula: the normal RBC class) as one cell
        normals = [tuple(split.info["normal_classes"])]
    if a.normal in (None, "all"):
        cells = grid(normals, gammas, methods, encs, seeds)
    del split
    # every cell's split and method, before any trains: a bad cell would otherwise fail when reached, hours in
    checked_log = RunLog()  # (no file: what the check shows, which each cell's own split says again into its log)
    with copying_warnings(checked_log):
        check_cells(base, cells, Path(a.out), loaded=loaded, said=base_log.warnings_given)
    # the read as the cells read it: itself, or (a generic tree or .npz read at its own size) converted to their size
    # where that is their read byte for byte (read_for); else None, not held while the cells train (they read the data
    # as they want it)
    loaded = read_for(cell_config(base, cells[0]).data, loaded) if cells else None
    eprint(f"study: {counted(len(cells), 'cell')} -> {a.out}")
    # (the read handed on: the cells, which read the data alike, train on it)
    return _run_the_study(a, base, cells, study_log, data_said=read_log.warnings_given, loaded=loaded,
                          checked_said=[*base_log.warnings_given, *checked_log.warnings_given])


def _finished_study_config(a: argparse.Namespace, cells: list[Any], out: Path) -> RunConfig | None:
    """The study's base config when every cell of `cells` is done as the command asks (a row in results.jsonl,
    computed as this command computes it), built without reading the data: the resolution and channels the data
    gives are taken from what the cells recorded (studies.study.recorded_shape). None when the data must be read: a
    cell to train or evaluate, no record, or a --resolution / --channels (or a --config's) other than the recorded
    ones (the decode path then refuses it by name, check_study_dir). Which cells the command has was found from the
    data's labels as they are now (its class folders or label arrays: studies.study.listed_study_classes,
    listed_default_cell), so a class added or relabelled since is a cell to train. What is not checked here is
    whether the data's images changed since the cells were read: their pixels, or their size (for a folder tree the
    median size of every image, which only the decode gives); the tables are made from the rows, which that change
    would not alter."""
    from ..studies.study import cells_to_compute, recorded_shape

    shape = recorded_shape(cells, out)
    if shape is None:
        return None
    asked = asked_data_config(a)
    if asked.resolution not in (None, shape[0]) or asked.channels not in (None, shape[1]):
        return None
    base = run_config_for_shape(a, *shape)
    return None if cells_to_compute(base, cells, out) else base


def _run_the_study(a: argparse.Namespace, base: RunConfig, cells: list[Any], study_log: RunLog,
                   data_said: Sequence[str] = (), loaded: LoadedData | None = None,
                   checked_said: Sequence[str] = ()) -> int:
    from ..studies import run_study

    try:
        import shlex

        # (a namespace parsed without main has no command line: the study's log then names the command only)
        command = shlex.join(getattr(a, "command_line", None) or ["wildgan", "study"])
        run_study(base, cells, Path(a.out), progress=not a.no_progress, log=study_log, cells_checked=True,
                  rows_named=True, data_said=data_said, loaded=loaded, checked_said=checked_said, command=command)
    except BaseException as e:
        # the study's log.txt says how it stopped, once: a cell that stopped has said it there already
        line = f"stopped: {stop_text(e)}"
        if Path(a.out).is_dir() and not isinstance(e, ConfigError) and study_log.last_line != line:
            study_log.write(line)
        raise
    write_stdout((Path(a.out) / "tables.md").read_text() + "\n")
    return 0
