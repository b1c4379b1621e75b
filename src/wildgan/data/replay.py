"""Training a saved run again from its config file: what `wildgan train --config RUN/config.json` does, for Python.

A run's config file (config.json, config.yaml, or a copy of one) names everything that made the run, and read back
it trains the run again (another `--out`, another seed, ...). Read as is (`wildgan.config.run_config_file` and
`train_run`), it missed what the command line checks, and trained another run without a word: a Detector.fit's run
on images given in memory records no data, and trained on $WILDGAN_DATA or the embedded sample; one recorded by an
earlier wildgan as dataset 'auto' trained by a protocol that fit never used; and images changed since the run were
not said. The checks live here (torch-free, as the command line reads its --config file before anything else),
shared by the command line (wildgan.cli: its messages, on stderr) and `wildgan.training.run.replay_run`
(WildganWarnings):

* `fit_record` / `as_fit_read`: a Detector.fit's run is replayed as fit read its data ('unlabelled');
* `refuse_in_memory_replay`: a fit's run on images given in memory needs them given again;
* `in_run_order`: the images read put in the order the run trained them in (a Detector.fit's: as read, where the
  command line's splits shuffle them by the seed);
* `warn_if_replay_reads_other_images`: the images read are not the ones the run trained on, or not in its order
  (split.json, or the comment at the top of a copied config.yaml, records them).

Each takes `files` (ReplayFiles), what a replay reads of the run: its config file, split.json and config.json beside
it, each read once for all the checks of one replay."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from ..config import (DATA_SETTINGS_KEY, SAMPLE_TOKEN, ConfigFile, DataConfig, RunConfig, read_config_file,
                      run_config_from_dict, run_config_in, run_config_to_dict)
from ..errors import ConfigError, warn_user
from .source_identity import restore_advice, source_replaced
from .splits import (TRAIN_ORDER_READ, AnomalySplit, follow_train_order, keep_channels_origin,
                     read_order_pixels_sha256, split_differences, split_summary)

Say = Callable[[str], None]
Found = tuple[str, dict[str, Any], str, Any]
# the errors of reading a run's record (the config file, split.json, its header), which the checks take as no record
_UNREADABLE = (ConfigError, ValueError, OSError, AttributeError)


class ReplayFiles:
    """What a replay of a run's config file reads: the file (its settings and its comment header, of one read of its
    text: config.read_config_file), split.json beside it and the run's config.json; each once, when first asked, for
    all the checks of the replay (as_fit_read, refuse_in_memory_replay, in_run_order and
    warn_if_replay_reads_other_images). Each check read them on its own, the record twice: a file saved meanwhile gave
    the replay the header of one version and the settings of another, or one split.json to order the images by and
    another to compare them with. file: the config file's, where the caller has read it (the command line's --config
    file, read once a command: cli.config_args.config_reader); read: how to read it where not (read_config_file by
    default; the command line's reader, which reads each file once a command). `wildgan train --resume` reads split.json
    and config.json for its own checks through the same ReplayFiles (run_json, split_json): once a command too."""

    def __init__(self, config: Path, file: ConfigFile | None = None,
                 read: Callable[[Path], ConfigFile] | None = None) -> None:
        self.config = Path(config)
        self._file = file
        self._read = read_config_file if read is None else read
        self._split: Any = None          # (split.json's contents, or the error reading it; None: not read yet)
        self._run_json: Any = None       # ((config.json beside it, read), or the error; None: not read yet)
        self._training: Any = None       # ((the file's RunConfig, _training_record's), or the error; None: not yet)
        # each file read here, as it was just before it was read (_stamp): what changed_since_read compares
        self._stamps: dict[Path, tuple[int, int, int] | None] = {}

    def _stamped(self, path: Path) -> None:
        """Note `path` as it is now, before it is read (once: the first read's is the one the checks used). Taken
        before, not after: a file saved between the two is then seen as changed, never a new one as the one read."""
        self._stamps.setdefault(path, _stamp(path))

    def changed_since_read(self) -> Path | None:
        """The first file read here (the config file where read here, config.json, split.json) that is not now as it
        was when read: rewritten, replaced, made or removed since; None where each is as read. `train --resume`
        reads them before it takes the run's lock (and before the data is decoded): a resume of the same run that
        ran and finished in between rewrote config.json and split.json, and this one went on with the record of
        before (training.run asks this under the lock). A file given to the constructor already read is not known
        here."""
        for path, stamp in self._stamps.items():
            if _stamp(path) != stamp:
                return path
        return None

    def file(self) -> ConfigFile:
        """The config file read (ConfigError where it cannot be)."""
        if self._file is None:
            self._stamped(self.config)
            self._file = self._read(self.config)
        return self._file

    def run_json(self) -> ConfigFile:
        """The run's config.json beside the config file, read (the config file itself where it is that file, not
        read again); what reading it raised (ConfigError: none there, or damaged) is raised again at each call."""
        path = self.config.parent / "config.json"
        if self._run_json is None:
            try:
                same = path.is_file() and self.config.is_file() and path.samefile(self.config)
                if not same:
                    self._stamped(path)
                self._run_json = (self.file() if same else self._read(path),)
            except (ConfigError, OSError) as e:
                self._run_json = e
        if isinstance(self._run_json, BaseException):
            raise self._run_json
        return self._run_json[0]

    def split_json(self) -> Any:
        """The contents of split.json beside the config file; what reading it raised (OSError where there is none,
        ValueError where it is damaged) is raised again at each call, not read again."""
        if self._split is None:
            self._stamped(self.config.parent / "split.json")
            try:
                self._split = (json.loads((self.config.parent / "split.json").read_text(encoding="utf-8")),)
            except (OSError, ValueError) as e:
                self._split = e
        if isinstance(self._split, BaseException):
            raise self._split
        return self._split[0]

    def file_config(self) -> RunConfig | None:
        """The RunConfig in the config file (None for a flat file of options); its errors raised."""
        return self._read_training()[0]

    def training(self) -> Found | None:
        """_training_record's: the run, its record of its training images, where that is, the data settings it
        trained with; None where there is no record. Its errors (_UNREADABLE) raised, at each call."""
        return self._read_training()[1]

    def _read_training(self) -> tuple[RunConfig | None, Found | None]:
        if self._training is None:
            try:
                file_cfg = run_config_in(self.file().contents, self.config)
                self._training = (file_cfg, _training_record(self, file_cfg))
            except _UNREADABLE as e:
                self._training = e
        if isinstance(self._training, BaseException):
            raise self._training
        return self._training


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells a file saved again from the one read, without reading it: (mtime_ns, size, inode); None where there
    is none. The inode catches wildgan's own saves (a new file renamed over the old: fileio.atomic_write_text) where
    the clock's step is too coarse for the time to differ and the size is the same."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def _files(config: Path, files: ReplayFiles | None) -> ReplayFiles:
    """`files`, or a ReplayFiles of `config` where the caller gave none (read by this check alone)."""
    return ReplayFiles(config) if files is None else files


def fit_record(config: Path, files: ReplayFiles | None = None) -> dict[str, Any] | None:
    """split.json of the run whose config file `config` is, where a Detector.fit on images it was given wrote that
    run (detector_input); for a config file with no split.json beside it (a config.yaml copied out of its run
    folder), the record of the same that its comment header keeps (config_yaml_record). None otherwise: a `wildgan
    train` run, a DataConfig fit (trained by a protocol), a copy without a header (an older wildgan's, or a JSON
    file), or an unreadable record (the commands that read it say what is wrong). A config.yaml copied into another
    run's folder is read by its own header, not by that folder's split.json (_split_json_is_its_runs)."""
    files = _files(config, files)
    try:
        if _split_json_is_its_runs(files):
            info = files.split_json()
        else:
            # (the header records detector_input as split.json does: without it, a copy of an earlier fit's 'auto'
            # was replayed by that protocol, another split than the fit's, and a copy of a fit on images in memory
            # trained on the default data, each without a word)
            record = files.file().record
            info = None if record is None else record[1]
    except _UNREADABLE:
        return None
    return info if isinstance(info, dict) and info.get("detector_input") else None


def as_fit_read(cfg: RunConfig | None, config: Path, note: Say = warn_user,
                files: ReplayFiles | None = None) -> RunConfig | None:
    """A run's config file as a replay reads it: the run as it was trained. A Detector.fit of an earlier wildgan on a
    folder, an archive or a data-set file recorded dataset 'auto', which replays such data by its protocol: a
    labelled .npz or a tree of class folders stopped on 'choose the normal class(es)', CIFAR-10's batches trained on
    automobile alone. fit read every image, labels ignored, which is 'unlabelled' (what fit records since), and
    `note` is told so. Only a fit's run (split.json's detector_input): a `wildgan train` or DataConfig run's 'auto'
    is a protocol."""
    if cfg is None or cfg.data.dataset != "auto" or cfg.data.data is None or fit_record(config, files) is None:
        return cfg
    data = "the embedded sample" if cfg.data.data == SAMPLE_TOKEN else cfg.data.data
    note(f"{config}: dataset 'auto' of a Detector.fit recorded by an earlier wildgan is replayed as 'unlabelled': "
         f"every image of {data}, labels ignored, as that fit read it")
    return replace(cfg, data=replace(cfg.data, dataset="unlabelled"))


def refuse_in_memory_replay(config: Path, file_cfg: RunConfig, data: DataConfig, *,
                            give: str = "with --data (a folder or a data-set file) and --dataset unlabelled",
                            files: ReplayFiles | None = None) -> None:
    """A Detector.fit's run on images given in memory (arrays, a list of files) records no data: replayed without
    data given, its config trained on $WILDGAN_DATA or the embedded sample in silence. Refused, saying what to give
    (`give`: how the caller passes data, the command line's options by default)."""
    info = fit_record(config, files)
    if info is None or file_cfg.data.data is not None or data.data is not None:
        return
    raise ConfigError(f"{config}: the run was trained by Detector.fit on images given in memory "
                      f"({info.get('source') or 'in-memory'}), which its config cannot name; give them {give} to "
                      f"train on every image as that fit did", file=str(config))


def in_run_order(config: Path, split: AnomalySplit, *, files: ReplayFiles | None = None) -> AnomalySplit:
    """The split a replay of the run whose config file `config` is built, in the order that run trained its images
    in (follow_train_order). A Detector.fit on a folder or a data-set file trains them in the order it read them,
    which its split.json says (train_order) and a copied config.yaml's comment header repeats; the replay reads the
    same pile, which build_split shuffles by the seed, and trained other networks on the same images. Put back in
    the order read, it trains the fit's networks again; so does a fit of an earlier wildgan, whose record says no
    order, where the pile's pixels in read order are the recorded ones. Any other run (a `wildgan train` run's seeded
    shuffle, an earlier fit's on images changed since) gets the split as it is. Called on every rank of a torchrun
    job, which must all train one order. The split given is used up (in_read_order): use the one returned.
    files: what the replay reads (ReplayFiles), where the caller has them: not read again."""
    try:
        found = _files(config, files).training()
    except _UNREADABLE:
        return split                  # (no readable record: warn_if_replay_reads_other_images says nothing either)
    return split if found is None else follow_train_order(split, found[1])


def _split_json_is_its_runs(files: ReplayFiles) -> bool:
    """Whether the split.json beside a config file is the record of the file's own run: there is one, and the file's
    comment header (where it has one) names no run elsewhere. A config.yaml copied into another run's folder is its
    own run's config, not the folder's: compared with the split.json beside it, a replay of its own run's images was
    warned of as changed data, and one on changed data could pass as the folder's run; and fit_record, asked apart,
    took that folder's record for the file's, so a copy of a Detector.fit's config on images in memory put in a
    `wildgan train` run's folder trained on the default data without a word. One rule for both (_training_record,
    fit_record). A file that does not read has no header to name another run: the split.json beside it is its run's
    (a resume's damaged config.yaml is said by the reading of it, not by another record here)."""
    config = files.config
    if not (config.parent / "split.json").is_file():
        return False
    try:
        header = files.file().record
    except _UNREADABLE:
        return True
    return header is None or header[0] is None or Path(header[0]).resolve() == config.parent.resolve()


def _training_record(files: ReplayFiles, file_cfg: RunConfig | None) -> Found | None:
    """(the run, its record of the images it trained on, where that record is, the data settings it trained with:
    _run_data_settings) for a run's config file: its split.json beside it, or the comment header of a config.yaml
    copied elsewhere (config_yaml_record; one copied into another run's folder names its own run, not the folder's).
    None where there is no record (a file without a header, from an older wildgan or written by hand); the errors of
    reading them (ConfigError, ValueError, OSError) are raised. file_cfg: the RunConfig in the config file. Read
    through `files` (ReplayFiles.training, once a replay): the header of the text the settings were read from."""
    config = files.config
    recorded_path = config.parent / "split.json"
    header = files.file().record
    if _split_json_is_its_runs(files):
        recorded = files.split_json()
        run_json = config.parent / "config.json"
        # (the run's own config.json replayed: the file read already, not read again, where a version saved
        # meanwhile would be compared with the one replayed as though its data section had been edited)
        ran = (None if file_cfg is None else file_cfg.data) if run_json == config else _run_data_settings(files)
        return str(config.parent), recorded, f"{recorded_path} records them", ran
    if header is None:
        return None
    return (header[0] or "?", header[1], f"the comment at the top of {config} records them",
            _run_data_settings(file_cfg, header[1].get(DATA_SETTINGS_KEY)))


def warn_if_replay_reads_other_images(config: Path, cfg: RunConfig, split: AnomalySplit, *, warn: Say = warn_user,
                                      note: Say = warn_user, replayer: str = "`wildgan train --config`",
                                      files: ReplayFiles | None = None) -> None:
    """A replay of a run's config file with the run's own data settings promises the run again; where the images it
    reads are not the ones RUN/split.json recorded (the data edited, replaced or moved since), it trained another run
    without a word, while `evaluate`, `score` and `--resume` of RUN say so. Said here (`warn`) the same way. A config
    file copied out of its run folder has no split.json beside it, or another run's: its own comment header
    (config_yaml_record) names the run and its training images, and is compared instead (a file without one, from an
    older wildgan or written by hand, cannot be checked). A replay that changes the data settings (--seed,
    --contamination, --data, ...) asks for other images on purpose and is not compared, whether given by the caller
    or in the file's own data section edited by hand (against the run's config.json beside it, or the data settings
    its header records). A replay of the same images keeps the run's record of where its channel count came from (the
    config gives the count, which made split.json say "chosen" for the data's). A config.json copied out of its run
    folder records nothing to compare with (JSON has no comments, and an entry of its own would make every older
    wildgan refuse the run's config.json): said to `note` (_note_unchecked_json; `replayer`: the call that warns).

    A Detector.fit's record (detector_input) names its images by the paths fit was given (absolute, relative, a list
    of files), which a replay reading the recorded folder names otherwise: their ids are not compared, their pixels
    in order are (what the networks learn from). Where only the order differs (the replay's pile shuffled by the
    seed: `split` is expected in the run's order, in_run_order, and one given without it is not), the warning says
    so: the same images, in another order, train other networks. files: as in_run_order's."""
    files = _files(config, files)
    try:
        file_cfg = files.file_config()
        found = files.training()
    except _UNREADABLE:
        return                        # (not a run's own config beside a readable record: nothing to compare with)
    if found is None:
        # (an older wildgan's file, or one by hand: nothing to compare with)
        _note_unchecked_json(config, file_cfg, cfg, note, replayer, files.file().contents)
        return
    run, recorded, where, ran = found
    # the replay's settings against the file's as a replay reads them: an earlier Detector.fit's 'auto' is replayed
    # as 'unlabelled' (as_fit_read, said by the caller), and compared with the file's own 'auto' it passed for other
    # settings asked for on purpose, so images changed since went unsaid. The hand-edit check below compares the
    # file with the run's own record, both as written
    as_read = as_fit_read(file_cfg, config, note=lambda _: None, files=files)
    if as_read is None or not isinstance(recorded, dict) or as_read.data != cfg.data:
        return
    if ran is not None and ran != file_cfg.data:
        return                        # (the file's data section edited by hand: other images asked for, as by --seed)
    fit = bool(recorded.get("detector_input"))
    now = split_summary(split)        # (hashes every pixel: once, for both comparisons)
    compared = {k: v for k, v in recorded.items() if not (fit and k == "train_ids_sha256")}
    diffs = split_differences(split, compared, train_only=True, now=now)
    if not diffs:
        keep_channels_origin(split, recorded)
        return
    replaced = source_replaced(recorded, split.info)
    advice = f". {replaced}: {restore_advice(split.info.get('source'))}" if replaced else ""
    if _only_the_order_differs(split, compared, now):
        # (a record of an earlier wildgan does not say its order: in_run_order proves it by these pixels instead)
        why = ("its record says so" if "train_order" in recorded else
               "which its record, of an earlier wildgan, does not say")
        warn(f"{config} replays the run in {run} on the images it trained on, but in another order ({where}): that "
             f"run, a Detector.fit, trained them in the order it read them ({why}), and this replay in the order its "
             f"seed shuffles them: this trains other networks than that run's" + advice)
        return
    warn(f"{config} replays the run in {run}, but its training images are not the ones that run trained on "
         f"({'; '.join(diffs)}; {where}): this trains another run, not a replay of it" + advice)


def _only_the_order_differs(split: AnomalySplit, recorded: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether a replay's split holds the very training images a run's record (split.json, ids left out for a
    fit's) says, only in another order: the counts and channels agree, and its pile put in the order read has the
    recorded checksum of pixels in order, where the run trained in that order (a Detector.fit's, whose record says
    so or, from an earlier wildgan, does not say any order)."""
    said = recorded.get("train_order")
    if not (said == TRAIN_ORDER_READ or said is None and recorded.get("detector_input")):
        return False
    if any(k in recorded and recorded[k] != now[k] for k in ("n_train", "n_train_anomalous", "resolution",
                                                              "channels")):
        return False
    pixels = recorded.get("train_pixels_sha256")
    return isinstance(pixels, str) and pixels != now["train_pixels_sha256"] and \
        read_order_pixels_sha256(split) == pixels


def _note_unchecked_json(config: Path, file_cfg: RunConfig | None, cfg: RunConfig, note: Say, replayer: str,
                         contents: dict[str, Any]) -> None:
    """A run's config.json (with the format_version wildgan writes) replayed away from its run folder, on its own
    data settings: config.yaml's comment header records the images the run trained on, and a copy of it warns when
    they changed; config.json cannot hold such a record, so its copy replayed changed data without a word. Said, with
    the file that is checked. A replay given other data settings (--data, --seed) asks for other images on purpose,
    and a flat file of options or a sectioned file without format_version (written by hand) is no run's. (A copy
    whose data section was edited by hand cannot be told from the run's own: it gets the note too.)"""
    if file_cfg is None or file_cfg.data != cfg.data or config.suffix in (".yaml", ".yml", ".toml"):
        return
    if "format_version" not in contents:
        return
    # (worded for any wildgan-written JSON: a `train --dry-run` table saved to a file has format_version too)
    note(f"{config} has no split.json beside it: if it is a run's config.json, whether these are the images its run "
         f"trained on is not checked (unlike config.yaml, JSON has no comment to record them in); {replayer} of the "
         f"run's config.yaml (or of its config.json in its run folder) warns where they changed")


def _run_data_settings(where: Any, section: Any = None) -> Any:
    """The data settings (a DataConfig) a run trained with, for warn_if_replay_reads_other_images: those of its
    config.json (`where` the ReplayFiles of its config file: ReplayFiles.run_json), or, `where` being a config file's
    RunConfig, `section` (the data section that
    file's header records) read as the file's own data section is. None where there is no such record (a header
    written before it held one) or it cannot be read: the replay is then compared as if nothing was edited."""
    try:
        if isinstance(where, ReplayFiles):
            path = where.config.parent / "config.json"
            cfg = run_config_in(where.run_json().contents, path) if path.is_file() else None
            return None if cfg is None else cfg.data
        if not isinstance(section, dict):
            return None
        return run_config_from_dict({**run_config_to_dict(where), "data": section}).data
    except (ConfigError, ValueError, OSError, TypeError):
        return None
