"""train's options -> RunConfig: `--config FILE` and `--resume` install a file's values as option defaults
(`set_from_config`, `resume_config`), and `build_run_config` turns the options into the run's config and split.

Every `train` option can also come from a YAML/TOML/JSON config file (`--config FILE`, e.g. a run's own
config.yaml); options given on the command line win over the file. A run's own config replays that run exactly,
including the fields that have no option (see build_run_config); explicit flags change only what they control."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..config import as_typed, load_config_file, read_config_file, square_name, unknown_names_text
from ..errors import ConfigError, DataError, WildganError
from ..runlog import WARNING
from .common import csv_list, eprint, option_flag, option_given
from .parser import make_option_parser, pre_parse, pre_parser, sub_parser

if TYPE_CHECKING:  # types only: the CLI imports torch-heavy modules lazily, inside the commands
    from ..config import ConfigFile, DataConfig, NetConfig, RunConfig
    from ..data import AnomalySplit, LoadedData
    from ..data.replay import ReplayFiles


def _typed(p: argparse.ArgumentParser, argv: Sequence[str]) -> list[tuple[argparse.Action, str | None]]:
    """(action, the text of its value or None) of each option typed on this command line, in order, up to `--`
    (after it every word is a value, as argparse reads it: `-- --config x` types no --config). An option is matched
    exactly or as an unambiguous abbreviation, as argparse accepts it; its value text is the part after `=`, else the
    next word, for an option of one value (nargs None), None for the others. The one scan of typed_options and
    typed_texts, so that the two never disagree on what was typed."""
    strings = p._option_string_actions
    found: list[tuple[argparse.Action, str | None]] = []
    for i, tok in enumerate(argv):
        if tok == "--":
            break
        if not tok.startswith("--"):
            continue
        name, eq, value = tok.partition("=")
        hits = [name] if name in strings else [o for o in strings if o.startswith(name)]
        if len(hits) != 1:
            continue
        action = strings[hits[0]]
        text = None
        if action.nargs is None:
            text = value if eq else argv[i + 1] if i + 1 < len(argv) else None
        found.append((action, text))
    return found


def typed_options(p: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The dests of the options typed on this command line (_typed), before --config or --resume add the values of a
    file."""
    return {action.dest for action, _ in _typed(p, argv)}


def typed_texts(p: argparse.ArgumentParser, argv: Sequence[str]) -> dict[str, str]:
    """{dest: the text typed} of the options of one value typed on this command line (--lr -1 or --lr=-1, as _typed
    reads them; the last where one is typed twice, as argparse keeps it): what a refusal of the value echoes
    (config.typed_value), not its conversion (-1.0 for -1)."""
    return {action.dest: text for action, text in _typed(p, argv) if text is not None}


def typed_setting_values(argv: Sequence[str]) -> Callable[[str, str], Any]:
    """For config.typed_settings: value_of(flag, field), the value that `flag`, typed on this `train` command line
    (argv: the words after `train`), gives the run config's `field` (('--total-kimg', 'train.total_kimg') -> 1.0):
    its text converted as the command line converts it (argparse's type and choices, then run_config_from_args,
    the other options at their defaults). LookupError where the flag was not typed, or typed without a value (the
    command line's parse says so); a ConfigError naming the flag where its value is refused. The command line is
    read at each call, not before: only a refusal of a run's config file makes one."""
    argv = list(argv)

    def value_of(flag: str, field: str) -> Any:
        from ..config import typed_option_texts

        t = sub_parser(make_option_parser(), "train")
        typed, texts = typed_options(t, argv), typed_texts(t, argv)
        action = t._option_string_actions.get(flag)
        if action is None or action.dest not in typed:
            raise LookupError(flag)
        if action.nargs == 0:
            value = action.const
        elif action.dest in texts:
            try:
                value = t._get_values(action, [texts[action.dest]])
            except argparse.ArgumentError as e:
                # (argparse's own words, as its parse of the command line would say them after the file's refusal)
                raise ConfigError(str(e)) from None
        else:
            raise LookupError(flag)
        a = t.parse_args(["--out", "-"])                    # (every other option at its default)
        if action.dest != "data":
            # (the data by name, not by $WILDGAN_DATA: a variable naming a path that is gone, or a folder of several
            # data sets for --dataset cifar10, refused its value as a DataError where only another field was asked)
            from ..config import SAMPLE_TOKEN

            a.data = SAMPLE_TOKEN
        setattr(a, action.dest, value)
        with typed_option_texts(texts):
            # (any power of two and channel count where not typed: only the flag's own fields are read)
            cfg = run_config_from_args(a, a.resolution or 16, a.channels or 3)
        section, _, name = field.partition(".")
        return getattr(getattr(cfg, section), name)

    return value_of


def _refuse_resuming_without_encoder(run: str, read: Callable[[], dict[str, Any]]) -> None:
    """Refuse to resume a run that an earlier wildgan trained with method wildgan and no encoder (config's
    refuse_untrained_encoder, in a resume's words: train it again), before its config.yaml is read as a --config
    file, whose refusal names --encoder-loss as the way on: typed beside --resume, it asked for a setting the
    saved run does not have. read: gives config.yaml's contents (resume_config's, read once for all its uses)."""
    from ..config import refuse_untrained_encoder, run_config_from_dict

    try:
        cfg = run_config_from_dict(read())
    except (WildganError, TypeError, ValueError, KeyError, AttributeError):
        return                 # (a file that does not read: the resume's own reading of it says which)
    refuse_untrained_encoder(cfg, resumed=run)


class ConfigReader:
    """read_config_file, once a file, for one command: `train --resume` reads RUN/config.yaml (and a --config given
    beside it) before the options are parsed, and set_from_config reads the --config file that --resume adds; each
    read on its own, a file saved between the two (a run's config.yaml rewritten, a file edited) gave the command
    one version's checks and another's settings, a mix of two files. The same contents, then: a file named two ways
    (RUN/./config.yaml, a link) is one file. A read that fails is not kept (the next one says its error again). Each
    read gives the file's settings and its comment header's record, of one text (config.read_config_file).

    replay_files: what a replay of a config file reads (data.replay.ReplayFiles: the file through this reader,
    split.json and config.json beside it), one for each file a command: --resume's own checks read split.json and
    the run's config.json, and the replay of RUN/config.yaml it adds read them again."""

    def __init__(self) -> None:
        self._files: dict[str, ConfigFile] = {}
        self._replays: dict[str, ReplayFiles] = {}
        # a flat --config file typed beside --resume, whose values set_from_config puts over those of the run's
        # config.yaml, which resume_config adds (None: none)
        self.over_resumed: Path | None = None

    def __call__(self, path: Path) -> ConfigFile:
        key = os.path.realpath(path)
        if key not in self._files:
            self._files[key] = read_config_file(path)
        return self._files[key]

    def replay_files(self, path: Path) -> ReplayFiles:
        from ..data.replay import ReplayFiles

        key = os.path.realpath(path)
        if key not in self._replays:
            self._replays[key] = ReplayFiles(Path(path), read=self)
        return self._replays[key]


def config_reader() -> ConfigReader:
    """A ConfigReader for one command."""
    return ConfigReader()



def in_memory_fit_resume(run_dir: object, info: dict[str, Any]) -> str | None:
    """The call that continues a run Detector.fit trained on images given in memory (`info`: its split.json), which
    `wildgan train --resume` cannot (it has no images to read); None for any other run."""
    if info.get("detector_input") and str(info.get("source") or "in-memory").startswith("in-memory"):
        return f"Detector(..., run_dir={str(run_dir)!r}).fit(X, resume=True), with the same parameters and X,"
    return None

def resume_config(argv: Sequence[str], log: Callable[[str], None] = lambda line: None,
                  read: ConfigReader | None = None) -> list[str]:
    """`wildgan train --out RUN --resume` continues RUN as it was configured: its config.yaml is read as if given with
    --config (flags given beside it change only what they control, and --resume refuses changes that do not fit).
    log: takes the lines said on stderr (without the `wildgan: ` prefix), for the run's log.txt, made later. read:
    how the config files are read (config_reader), the one set_from_config is given after, so that the --config
    file this returns is read once a command."""
    read = config_reader() if read is None else read
    pre = pre_parser()
    pre.add_argument("--config")
    pre.add_argument("--out")
    pre.add_argument("--resume", action="store_true")
    pre.add_argument("--overwrite", action="store_true")
    pre.add_argument("--data")
    # (a refusal, `--out` with no folder, is train's own: its usage and error, made only then)
    known = pre_parse(pre, argv, lambda: sub_parser(make_option_parser(), "train"))
    if known.resume and known.overwrite:
        # said before "resuming with the settings of ...", which would announce a resume that cannot happen
        raise ConfigError("--resume continues the run in place and --overwrite deletes it: give one of them")
    saved = Path(known.out) / "config.yaml" if known.out else None
    if not known.resume or saved is None or not saved.is_file() or not saved.with_suffix(".json").is_file():
        # (without config.json there is nothing to resume, as check_run_dir says: not after "resuming with ...")
        return list(argv)
    from ..data.readers import missing_run_data_error

    # (read once, where asked: its method's encoder, the data it names, the check of config.json against it, and
    # then set_from_config's values, which must be of the version these checks passed, not of one saved since; so
    # are split.json and config.json beside it, by these checks and then by the replay of config.yaml they add)
    files = read.replay_files(saved)

    def saved_contents() -> dict[str, Any]:
        return files.file().contents

    def saved_args() -> dict[str, Any]:
        # (with the files: its replay's check of a Detector.fit's record reads split.json, read once with the rest)
        return config_file_to_args(saved, saved_contents(), files)

    _refuse_resuming_without_encoder(known.out, saved_contents)

    def refuse_if_gone(data: str | None) -> None:
        gone = missing_run_data_error(data, known.out)
        if gone is not None:
            raise gone

    if known.config and Path(known.config).is_file() and not _is_run_config(read(Path(known.config)).contents):
        # a flat file of a few settings beside --resume changes those settings of the run, as the same flags typed
        # beside it would: it goes over the run's config.yaml (set_from_config). Taken instead of it, as a run's own
        # config file is, the run's other settings fell back to the defaults (the sample's data, --preset fast, ...),
        # and the resume was refused for settings that differ which nobody had asked to change
        read.over_resumed = Path(known.config)
    elif known.config:
        if known.data is None and Path(known.config).is_file():
            # the run's own data, named in the given config too (e.g. RUN/config.yaml itself), moved since: said
            # as a plain --resume says it, not as a bare 'PATH: no such file or folder'
            data = saved_args().get("data")
            # (its replay's files through the command's reader, as config.yaml's above: the check of a
            # Detector.fit's record read the file again on its own, and split.json beside it)
            given = read.replay_files(Path(known.config))
            if config_file_to_args(given.config, given.file().contents, given).get("data") == data:
                refuse_if_gone(data)
        return list(argv)
    from ..scoring.run import read_split_info

    try:
        info = read_split_info(Path(known.out), files)
    except WildganError as e:
        if saved_args().get("data") is None:
            # no data file in the config: the embedded sample, or images a Detector.fit got in memory, which only
            # split.json tells apart; resuming the latter would train on the sample
            raise ConfigError(f"{e}; and {saved} names no data file, so whether the run was trained on the embedded "
                              f"sample or by Detector.fit on in-memory images cannot be told: restore split.json, "
                              f"or start again with --overwrite") from None
        # a damaged split.json is rewritten by the resume (train_run warns); it must not block the resume itself
        eprint(f"wildgan: {WARNING}{e}; it is rewritten when the run continues")
        log(f"{WARNING}{e}; it is rewritten when the run continues")
        info = {}
    fit_again = in_memory_fit_resume(known.out, info)
    if fit_again is not None:
        # its images were given in memory: the config's data (none) would silently train on the default sample.
        # (A fit on a folder or a data-set file records it as its data, read as a pile: resumed from it, the
        # resume checks the images by their pixels in fit's order, training.run._check_resumed_split)
        how = "on images given in memory"
        raise ConfigError(f"{known.out} was trained by Detector.fit {how}; `wildgan train --resume` cannot "
                          f"continue it: {fit_again} does (or train anew with --data)")
    extra: list[str] = []
    data = saved_args().get("data")
    from ..config import SAMPLE_TOKEN

    if data and data != SAMPLE_TOKEN and not Path(data).exists() and info.get("source") and \
            Path(info["source"]).exists():
        extra = ["--data", info["source"]]       # a run of an older version recorded a relative path
    elif known.data is None:
        refuse_if_gone(data)
    _warn_if_run_files_disagree(Path(known.out), saved_contents(), files)
    eprint(f"wildgan: resuming with the settings of {saved}")
    log(f"resuming with the settings of {saved}")
    return [*argv, "--config", str(saved), *extra]


def _warn_if_run_files_disagree(run: Path, contents: dict[str, Any], files: ReplayFiles) -> None:
    """A run's config.json and config.yaml that differ (one edited by hand): `--resume` alone takes config.yaml's
    settings and checks them against config.json, so an edit of config.json's total_kimg was dropped in silence (or
    refused as shorter than trained), and one of its lr refused as "settings that differ from the saved run", options
    the user had not typed, without a word of the two files. contents: config.yaml's, as resume_config read them;
    files: the ReplayFiles of RUN/config.yaml, through which config.json and split.json are read (once a command)."""
    from ..config import RunConfig, read_run_config, run_config_in, typed_settings
    from ..errors import warn_user
    from ..training.run import run_differences

    try:
        # (the files as they are: a flag's value taken for a setting config.yaml refuses is not the file's)
        with typed_settings(None):
            from_json = read_run_config(run, files.run_json().contents, files.split_json)
            from_yaml = run_config_in(contents, run / "config.yaml")
    except (WildganError, OSError):
        return                 # a file that does not read: the resume's own reading of it says which
    if not isinstance(from_yaml, RunConfig):
        return
    # not the data path: read_run_config names the data of an older run as split.json or the sample's name does,
    # which a config.yaml recorded relative or by the sample's path does not, and the resume reads it so anyway
    from_yaml = replace(from_yaml, data=replace(from_yaml.data, data=from_json.data.data))
    apart = run_differences(from_json, from_yaml, frozenset())
    if apart:
        warn_user(f"{run}: its config.json and config.yaml disagree (edited by hand?): {'; '.join(apart)} "
                  f"(config.json -> config.yaml); --resume continues with config.yaml's settings and refuses those "
                  f"that define another run than config.json's: make the two files say the same")


def set_from_config(p: argparse.ArgumentParser, argv: Sequence[str], read: ConfigReader | None = None,
                    files: ReplayFiles | None = None) -> None:
    """Pre-parse --config and install its values as defaults, so explicit CLI flags still win. read: how to read the
    file (resume_config's config_reader, which has read it already where --resume added it); files: what a replay of
    it reads (data.replay.ReplayFiles), where the caller has them (the file read already, not read again). A flat
    file typed beside --resume (read.over_resumed) is installed after the run's config.yaml, over it."""
    pre = pre_parser()
    pre.add_argument("--config")
    known = pre_parse(pre, argv, lambda: p)
    if not known.config:
        return
    _install_config(p, known.config, read, files)
    over = None if read is None else read.over_resumed
    if over is not None and os.path.realpath(over) != os.path.realpath(known.config):
        # (its keys, not config.yaml's, are the ones a refusal of a value the options' checks refuse names)
        _install_config(p, str(over), read, None)


def _is_run_config(d: dict[str, Any]) -> bool:
    """Whether a config file's contents are a run's own config (sections data, train, ...), not a flat file of long
    option names (as config_file_to_args and _written_keys tell them apart)."""
    return "train" in d and "data" in d and isinstance(d["train"], dict)


def _install_config(p: argparse.ArgumentParser, config: str, read: ConfigReader | None,
                    files: ReplayFiles | None) -> None:
    """set_from_config's install of one file's values (config: its path as typed) as p's defaults."""
    from ..data.replay import ReplayFiles

    path = Path(config)
    # (once: the values, the keys as written, a refusal's words later, and what the command reads of it after the
    # options are parsed, its replay's checks too: config_contents, replay_files)
    if files is None:
        files = ReplayFiles(path, read_config_file(path)) if read is None else read.replay_files(path)
    d = files.file().contents
    values = config_file_to_args(path, d, files)
    actions = _config_file_options(p)
    unknown = sorted(set(values) - set(actions))
    if unknown:
        sections = [k for k in unknown if k in ("data", "net", "train", "score", "fanogan", "search")]
        hint = f"; {_whole_config_hint(sections)}" if sections else ""
        # (the keys with _, as config_file_to_args made them; the options are too many to list on the line)
        said = unknown_names_text("option", unknown, list(actions), list_known=False)
        raise ConfigError(f"{config}: {said}; use the long option names of `wildgan train --help` (with _ "
                          f"or -){hint}", file=config)
    if values.get("resume") is True:
        # --resume is read from the command line before any file (resume_config: the run's config.yaml, its checks):
        # from a file it reached the resume without the run's settings, which was refused for settings that differ
        # (the defaults') that nobody had asked to change
        raise ConfigError(f"{config}: resume: true is not taken from a config file: type --resume on the command "
                          f"line (`wildgan train --out RUN --resume`, with the run's own settings; this file beside "
                          f"it changes only the settings it gives)", file=config)
    if values.get("overwrite") is True and read is not None and read.over_resumed is not None and \
            os.path.realpath(read.over_resumed) == os.path.realpath(path):
        # beside a typed --resume (this file goes over the run's config.yaml): check_out_dir refused the pair as
        # flags, "--overwrite deletes it", which nobody had typed, without naming the file it came from
        raise ConfigError(f"{config}: overwrite: true deletes the run that --resume continues: drop it from the "
                          f"file to continue the run (or, to start again, --overwrite without --resume)", file=config)
    written = _written_keys(d)
    p.set_defaults(**{k: _option_value(actions[k], v, path, written[k][0] if written and k in written else None)
                      for k, v in values.items()})
    if written is not None or p.get_default("config_written") is None:
        # for _said_with_config, which names a value the options' checks refuse by the file's key, and the file
        # (a flat file beside --resume: not the options' --config, the run's config.yaml)
        p.set_defaults(config_written=written, config_written_in=config)
    if p.get_default("config_replay_files") is None:
        # (the file the options' --config names: the run's, where a flat file goes over it)
        p.set_defaults(config_replay_files=files)


def replay_files(a: argparse.Namespace) -> ReplayFiles | None:
    """What a replay of the options' --config file reads (data.replay.ReplayFiles; None without a file): the file
    as set_from_config read it, split.json and config.json beside it, each read once a command for the readers of
    the parsed options (the data and run config they ask for, train's minibatch table and the replay's checks),
    which read the file again each, up to ten times a command, and split.json and config.json twice; made now
    (and kept) for a namespace made without it."""
    config = getattr(a, "config", None)
    if not config:
        return None
    files = getattr(a, "config_replay_files", None)
    if files is None:
        from ..data.replay import ReplayFiles

        files = a.config_replay_files = ReplayFiles(Path(config))
    return files


def config_contents(a: argparse.Namespace) -> dict[str, Any] | None:
    """The contents of the options' --config file (None without one), as set_from_config read them (replay_files)."""
    files = replay_files(a)
    return None if files is None else files.file().contents


def _config_file_options(p: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """{key: action} of the options a --config file may set (its keys are the long option names with _): every
    option of the command but --help and --config itself, which set nothing of a run. Why: a typo was answered with
    'did you mean help?' or 'config?', and a file holding them was taken without a word."""
    return {a.dest: a for a in p._actions if a.option_strings and not isinstance(a, argparse._HelpAction)
            and a.dest != "config"}


def _whole_config_hint(sections: list[str]) -> str:
    """What a --config file with sections must hold, and where a few settings go instead."""
    return (f"a file with sections ({', '.join(sections)}) must be a whole run config (data, net and train, as a "
            f"run's config.yaml); for a few settings use flat option names (e.g. total_kimg: 100)")


def _written_keys(d: dict[str, Any]) -> dict[str, tuple[str, Any]] | None:
    """{dest: (its key as a flat --config file writes it (total_kimg, or total-kimg), its value there)} of the file's
    contents `d`; None for a run's own config file, whose keys are its sections' (config_file_to_args)."""
    if "train" in d and "data" in d and isinstance(d["train"], dict):
        return None
    return {str(k).replace("-", "_"): (str(k), v) for k, v in d.items()}


def _option_value(action: argparse.Action, v: Any, path: Path, key: str | None = None) -> Any:
    """A config-file value checked and converted as the command line would be (type, choices). argparse does not
    check defaults, so without this a bad value would surface later as a traceback or a message not naming the file.
    key: the value's key as the file writes it, which the refusal names, with the option it sets; the option alone
    where the file has no such key (a run's own config, mapped onto the options). The refused value is said as the
    file has it, as a run config's refusals say theirs (config.shown: a string quoted, telling '1' from 1)."""
    from ..config import shown

    flag = option_flag(action.dest)
    name = flag if key is None else key
    raw = v
    setting = "" if key is None else f" (the {flag} setting)"

    def refused(problem: str) -> ConfigError:
        return ConfigError(f"{path}: {name} {problem}{setting}", file=str(path))

    if v is None:
        return None
    if action.nargs == 0:                                   # store_true flags
        if not isinstance(v, bool):
            raise refused(f"must be true or false, got {shown(v, from_file=True)}")
        return v
    if action.type in (int, float):
        conv = None
        if isinstance(v, (int, float, str)) and not isinstance(v, bool):
            try:
                conv = action.type(v)
            except ValueError:
                pass
        if conv is None or (action.type is int and isinstance(v, float) and not v.is_integer()):
            kind = "a whole number" if action.type is int else "a number"
            raise refused(f"must be {kind}, got {shown(v, from_file=True)}")
        v = conv
    elif isinstance(v, (list, tuple)) and all(isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in v):
        # e.g. normal: [airplane, ship]; a list of classes one of which holds a comma kept as the names themselves
        # (data_config_from_args): joined, normal: ['a,b'] was split into classes 'a' and 'b' ("does not exist").
        # A tuple is such a list as a run's own config gives it (run_config_to_options: `--resume` and `--config
        # RUN/config.yaml` of a run of a class 'a,b' were refused, "--normal must be a string, got ["a,b"]")
        v = _class_names_option(v) if action.dest in ("normal", "exclude") else ",".join(map(str, v))
        if isinstance(v, tuple) and not all(n.strip() for n in v):
            # (the names kept as they are: an empty one is no class, where the joined list's split dropped it)
            raise refused(f"must name a class in each item, got {shown(raw, from_file=True)}")
    elif isinstance(v, (str, int, float)) and not isinstance(v, bool):
        if action.type is not None and isinstance(v, float) and v.is_integer():
            v = int(v)                                      # threads: 2.0, as the int options take it
        v = str(v)                                          # e.g. normal: 2
        if action.type is not None:
            # an option with its own parser (--threads, --keep-checkpoints, --device): argparse runs it on this
            # string default too, but its error would name the option and not the file the value came from
            try:
                action.type(v)
            except (argparse.ArgumentTypeError, ValueError) as e:
                raise refused(str(e)) from None
    else:
        raise refused(f"must be a string, got {shown(v, from_file=True)}")
    if action.choices is not None and v not in action.choices:
        raise refused(f"must be one of {', '.join(map(str, action.choices))}, got {shown(raw, from_file=True)}")
    return v


def config_file_to_args(path: Path, d: dict[str, Any] | None = None,
                        files: ReplayFiles | None = None) -> dict[str, Any]:
    """A flat file uses CLI option names (total_kimg: 100); a run's config.json/yaml (sections data/net/train)
    is mapped back onto the options so that `--config RUN_DIR/config.yaml` replays the run. The fields no option
    expresses are taken from the file by build_run_config (see there). d: the file's contents, where the caller
    has read them already (load_config_file); files: what a replay of it reads, as set_from_config's."""
    from ..config import run_config_in

    if d is None:
        d = load_config_file(path)
    if "train" in d and "data" in d and isinstance(d["train"], dict) and "net" not in d:
        # a hand-written file in a run config's layout with only the sections it changes: run_config_in's bare
        # "missing the 'net' section" did not say that a few settings go in a flat file, as a lone train: section's
        # refusal (set_from_config) does
        raise ConfigError(f"{path}: config is missing the 'net' section; {_whole_config_hint(['data', 'train'])}",
                          file=str(path))
    cfg = _as_fit_read(run_config_in(d, path), path, files)
    if cfg is None:
        out: dict[str, Any] = {}
        for k, v in d.items():
            dest = k.replace("-", "_")
            if dest in out and out[dest] != v:
                # total-kimg: 1 and total_kimg: 2 both name --total-kimg: one of them was dropped without a word
                raise ConfigError(f"{path}: {option_flag(dest)} is given twice, with different values "
                                  f"({as_typed(out[dest])} and {as_typed(v)}, spelt with - and with _); keep one",
                                  file=str(path))
            out[dest] = v
        return out
    return run_config_to_options(cfg)


FIT_READ_SAID: set[str] = set()


def _as_fit_read(cfg: RunConfig | None, config: Path, files: ReplayFiles | None = None) -> RunConfig | None:
    """A run's config file as `--config` replays it (data.replay.as_fit_read: a Detector.fit's run as fit read its
    data), its note said once a command: the file is read several times for one (main clears the set). files: as
    set_from_config's."""
    from ..data.replay import as_fit_read

    def note(msg: str) -> None:
        if str(config) not in FIT_READ_SAID:
            FIT_READ_SAID.add(str(config))
            eprint(f"wildgan: note: {msg}")

    return as_fit_read(cfg, config, note, files)


def _class_names_option(names: Sequence[Any]) -> str | tuple[str, ...]:
    """Class names as the value of --normal or --exclude: joined by ',' as typed, or, where one holds a comma (a
    folder 'a,b'), the tuple of the names, which data_config_from_args takes as they are (the comma list's split made
    class 'a,b' classes 'a' and 'b')."""
    names = [str(n) for n in names]
    # (an item of commas and spaces alone names no class: joined, it is refused as the comma list of no values)
    return tuple(names) if any("," in n and n.strip(", ") for n in names) else ",".join(names)


def run_config_to_options(cfg: Any) -> dict[str, Any]:
    """The CLI option values (argparse dests) that describe a RunConfig, as far as options can.

    Derived values are left out, so they are derived again from their inputs: total_kimg when it equals the paper
    schedule for the run's resolution / phase / transition, checkpoint_kimg when it equals max(1, ceil(total/20)).
    A replay without flags then derives the very same values, and a flag that changes an input (--total-kimg,
    --phase-kimg, ...) also changes what is derived from it, as it would have in the original command."""
    from ..config import PRESETS, default_checkpoint_kimg, paper_total_kimg

    data, net, train, fan = cfg.data, cfg.net, cfg.train, cfg.fanogan
    named = cfg.preset in PRESETS
    tri = {None: None, True: "on", False: "off"}
    out = {"data": data.data, "dataset": data.dataset, "normal": _class_names_option(data.normal) or None,
           "contamination": data.contamination, "resolution": data.resolution or net.resolution,
           "channels": data.channels or net.channels, "rotations": data.rotations, "test_size": data.test_size,
           "exclude": _class_names_option(data.exclude_classes), "skip_bad": data.skip_bad, "resize": data.resize,
           "square": data.square, "depth16": data.depth16, "download": data.download, "method": cfg.method,
           "preset": cfg.preset if named else None,
           "total_kimg": train.total_kimg, "phase_kimg": train.phase_kimg, "transition_kimg": train.transition_kimg,
           "minutes": train.minutes, "encoder_loss": train.encoder_loss if train.encoder_loss != "none" else None,
           "lr": train.lr, "seed": train.seed, "checkpoint_kimg": train.checkpoint_kimg,
           "on_divergence": train.on_divergence, "device": train.device, "amp": train.amp, "compile": train.compile,
           "channels_last": tri[train.channels_last], "cuda_graphs": tri[train.cuda_graphs],
           "gp_precision": train.gp_precision, "gp_target": train.gp_target, "g_image_loss": train.g_image_loss,
           "tensorboard": train.tensorboard, "ema_warmup": "on" if train.ema_warmup else "off",
           "threads": train.threads,
           "keep_checkpoints": "all" if train.keep_checkpoints is None else train.keep_checkpoints,
           "sample_kimg": train.sample_kimg, "no_train_scores": not train.train_scores,
           "width": net.fmap_max if named and net.fmap_max != PRESETS[cfg.preset]["fmap_max"] else None,
           "latent_size": net.latent_size if named and net.latent_size != net.nf(0) else None,
           "fanogan_iters": fan.gan_iters, "fanogan_enc_iters": fan.enc_iters, "fanogan_dim": fan.dim,
           "fanogan_bn_warmup": "on" if fan.bn_warmup else "off", "search_steps": cfg.search.steps}
    if _same(train.total_kimg, paper_total_kimg(net.resolution, train.phase_kimg, train.fade_kimg)):
        del out["total_kimg"]
    if _same(train.checkpoint_kimg, default_checkpoint_kimg(train.total_kimg)):
        del out["checkpoint_kimg"]
    return {k: v for k, v in out.items() if v is not None}


def _same(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def data_config_from_args(a: argparse.Namespace) -> DataConfig:
    """The DataConfig the options describe (resolution/channels as given: None = from the data)."""
    from ..config import DataConfig
    from ..data.readers import absolute_data_path

    if isinstance(a.normal, tuple):
        # class names already resolved against the data's (study --normal all's base config takes the data's first
        # kept class): taken as they are, not as a comma list, whose split made a class 'a,b' classes 'a' and 'b'
        # ("does not exist") and stripped ' good' to another class 'good'
        normal = a.normal
    else:
        # ("" is not given, as a config file may write it; ',' alone was "choose the normal class(es)", as if
        # --normal had not been typed, and --exclude ',' excluded nothing in silence, where study and evaluate
        # refuse it)
        normal = tuple(csv_list(a.normal, str, "--normal")) if a.normal else ()
    exclude = (a.exclude if isinstance(a.exclude, tuple)      # (names as they are: _class_names_option)
               else tuple(csv_list(a.exclude, str, "--exclude")) if a.exclude else ())
    return DataConfig(data=absolute_data_path(a.data, a.dataset), dataset=a.dataset, normal=normal,
                      contamination=a.contamination, resolution=a.resolution, channels=a.channels, seed=a.seed,
                      rotations=a.rotations,
                      test_size=a.test_size, exclude_classes=exclude, skip_bad=a.skip_bad, resize=a.resize,
                      depth16=a.depth16, square=square_name(a.square),        # (main warned of an old name)
                      download=a.download)


def net_config_from_args(a: argparse.Namespace, preset: str, resolution: int, channels: int) -> NetConfig:
    """The preset's NetConfig with --width / --latent-size applied (train and info)."""
    from ..config import net_config_for_preset

    width, latent_size = getattr(a, "width", None), getattr(a, "latent_size", None)
    for flag, v in (("--width", width), ("--latent-size", latent_size)):
        if v is not None and v < 1:
            # (in the option's name, not the API's; its parts for a --config file's key, _said_with_config)
            raise ConfigError(f"{flag} must be >= 1, got {v}", setting=flag[2:].replace("-", "_"), flag=flag,
                              problem="must be >= 1", value=v)
    return net_config_for_preset(preset, resolution, channels, width=width, latent_size=latent_size)


def run_config_from_args(a: argparse.Namespace, resolution: int, channels: int) -> RunConfig:
    """The RunConfig the options describe, for data of this resolution and channels. Pure: loads no data."""
    from ..config import (
        PRESETS,
        FAnoGANConfig,
        RunConfig,
        ScoreConfig,
        SearchConfig,
        TrainConfig,
        default_checkpoint_kimg,
        paper_total_kimg,
    )

    data = replace(data_config_from_args(a), resolution=resolution, channels=channels)  # recorded explicitly
    preset = a.preset or "fast"
    net = net_config_from_args(a, preset, resolution, channels)
    fade = a.transition_kimg if a.transition_kimg is not None else a.phase_kimg
    total = a.total_kimg if a.total_kimg is not None else paper_total_kimg(resolution, a.phase_kimg, fade)
    ck = a.checkpoint_kimg if a.checkpoint_kimg is not None else default_checkpoint_kimg(total)
    method = a.method
    train = TrainConfig(total_kimg=total, phase_kimg=a.phase_kimg, transition_kimg=a.transition_kimg,
                        minibatch=dict(PRESETS[preset]["minibatch"]), lr=a.lr,
                        encoder_loss="none" if method == "search" else a.encoder_loss, seed=a.seed,
                        minutes=a.minutes, checkpoint_kimg=ck, device=a.device, on_divergence=a.on_divergence,
                        amp=a.amp, compile=a.compile, gp_precision=a.gp_precision, gp_target=a.gp_target,
                        # (only the wildgan method trains E: another's --g-image-loss is warned of as ignored)
                        g_image_loss=getattr(a, "g_image_loss", 0.0) if method == "wildgan" else 0.0,
                        channels_last={"auto": None, "on": True, "off": False}[a.channels_last],
                        cuda_graphs={"auto": None, "on": True, "off": False}[a.cuda_graphs],
                        tensorboard=a.tensorboard, ema_warmup=a.ema_warmup != "off", threads=a.threads or None,
                        keep_checkpoints=a.keep_checkpoints, sample_kimg=a.sample_kimg,
                        train_scores=not getattr(a, "no_train_scores", False))
    fan = FAnoGANConfig(seed=a.seed, minutes=a.minutes, device=a.device, gan_iters=a.fanogan_iters,
                        **({"enc_iters": a.fanogan_enc_iters} if a.fanogan_enc_iters is not None else {}),
                        bn_warmup=a.fanogan_bn_warmup != "off",
                        **({"dim": a.fanogan_dim} if a.fanogan_dim is not None else {}))
    search = SearchConfig(**({"steps": a.search_steps} if getattr(a, "search_steps", None) is not None else {}))
    return RunConfig(data=data, net=net, train=train, score=ScoreConfig(), preset=preset, method=method,
                     fanogan=fan, search=search)


def _file_reference_args(config: str, files: ReplayFiles | None = None) -> argparse.Namespace:
    """The options `wildgan train --config FILE` resolves to with no other flag: the reference that tells which
    fields the real command line's explicit flags changed. files: the file's, read already (replay_files)."""
    t = sub_parser(make_option_parser(), "train")
    set_from_config(t, ["--config", config], files=files)
    return t.parse_args(["--config", config, "--out", "-"])


def _with_network_of(cfg: RunConfig, src: RunConfig) -> RunConfig:
    """cfg with src's preset name, network widths and minibatch table (the things --preset / --width set)."""
    net = replace(src.net, resolution=cfg.net.resolution, channels=cfg.net.channels)
    return replace(cfg, preset=src.preset, net=net, train=replace(cfg.train, minibatch=dict(src.train.minibatch)))


def _values_of(config: str | None) -> Any:
    """The context the options are checked in: with a --config file, the checks' messages spell its values as the
    file does (`got null`, not Python's `got None`; config.file_values)."""
    from contextlib import nullcontext

    from ..config import file_values

    return file_values() if config else nullcontext()


def build_run_config(a: argparse.Namespace, loaded: LoadedData | None = None) -> tuple[RunConfig, AnomalySplit]:
    """argparse namespace -> (RunConfig, AnomalySplit). The split is built first because the network's
    resolution and channels default to the data's (from `loaded`, the data as load_split_data read it, when given).

    When a.config is a run's own config file, the result is that run's config with only what the explicit flags
    change: the options are resolved twice, with the real command line and with `--config FILE` alone, and each
    field where the two agree is taken from the file (so fields without an option, e.g. train.gp_target,
    train.minibatch, net.latent_size, the score and search sections, survive), each field where they differ from
    the real command line. Values derived from other options follow their inputs (see run_config_to_options)."""
    from ..data import build_split

    config = getattr(a, "config", None)
    try:
        with _values_of(config):
            data = asked_data_config(a)
        # once: it only depends on the (merged) data section; --no-progress hides its decoding bar too. Shown off a
        # terminal as the training's bar is (progress_bar: redrawn every 30 s), where tqdm's auto (None) hid it
        split = build_split(data, progress=not getattr(a, "no_progress", False), loaded=loaded)
    except ConfigError as e:
        raise _said_with_config(e, a, config) from None
    except DataError as e:
        where = _config_data_missing(a)
        if where is None:
            raise
        raise DataError(f"{e} ({where})") from None
    return run_config_for_shape(a, split.resolution, split.channels), split


# The stand-in image size of check_options_before_data: 4x4 is the smallest a network takes, and the one every other
# check of the size finds least fault with (a width's channels run out at a higher resolution first; the paper's total
# length is shortest there but positive wherever the phases are)
_STAND_IN_RESOLUTION = 4


def check_options_before_data(a: argparse.Namespace) -> None:
    """Refuse what build_run_config would refuse of the options alone (a negative --lr, a NaN --g-image-loss, a
    --gp-target of -1, a --width of 0, ...), in its words, before anything reads the data: build_run_config refused
    them only after the split was built, minutes into decoding a large folder, for a refusal the values alone decide.
    The config is built as it builds it, for a stand-in size (the data's resolution and channels are not known yet);
    what depends on the real size (a width too thin for it, f-AnoGAN's 32 / 64) is still asked once the data is read."""
    config = getattr(a, "config", None)
    try:
        with _values_of(config):
            asked_data_config(a)
    except ConfigError as e:
        raise _said_with_config(e, a, config) from None
    channels = a.channels if a.channels in (1, 3) else 3   # (None: left to the data, which is not read yet)
    run_config_for_shape(a, _STAND_IN_RESOLUTION, channels)


def _config_data_missing(a: argparse.Namespace) -> str | None:
    """Where the data path that does not exist came from, when a --config file gave it (no --data typed): its
    `data:` value and the file, and for a relative value that it is read from the current folder (and then under
    $WILDGAN_DATA), not from the config file's folder. None when --data was typed, the file names no data, the data
    is there (the error is about something else), or --download fetches it (its error is the download's). Why: a
    `data: images/` in my.yaml run from another folder failed with '/elsewhere/images: no such file or folder', a
    path the user never wrote, with no word of the file it came from."""
    from ..config import is_sample_path
    from ..data.readers import resolve_data_root

    config = getattr(a, "config", None)
    if not config or option_given(a, "data") or getattr(a, "download", False):
        return None
    try:
        raw = config_file_to_args(Path(config), config_contents(a), replay_files(a)).get("data")
    except (WildganError, OSError):
        return None                   # (read once already; a file changed since is not this error's to explain)
    if not isinstance(raw, str) or not raw or is_sample_path(raw) or \
            resolve_data_root(raw, getattr(a, "dataset", "auto")).exists():
        return None
    said = f"data: {as_typed(raw)} in {config}"
    if Path(raw).expanduser().is_absolute():
        return said
    under = ", then under $WILDGAN_DATA" if os.environ.get("WILDGAN_DATA") else ""
    return (f"{said}; a relative path in a config file is read from the current folder, {os.getcwd()}{under}, not "
            f"from the config file's folder")


def asked_data_config(a: argparse.Namespace) -> DataConfig:
    """The data section the options ask for (a run's --config FILE with the explicit flags over it), resolution and
    channels None where left to the data."""
    from ..config import overlay_changes, run_config_in

    data = data_config_from_args(a)
    config = getattr(a, "config", None)
    files = replay_files(a)
    file_cfg = (_as_fit_read(run_config_in(files.file().contents, Path(config)), Path(config), files)
                if config and files is not None else None)
    if file_cfg is not None:
        data = overlay_changes(file_cfg.data, data_config_from_args(_file_reference_args(config, files)), data)
        from ..data.replay import refuse_in_memory_replay

        refuse_in_memory_replay(Path(config), file_cfg, data, files=files)
    return data


def run_config_for_shape(a: argparse.Namespace, res: int, ch: int) -> RunConfig:
    """build_run_config's RunConfig for data of resolution res and channels ch, known without building the split
    (build_run_config reads them from the data; a finished study from its cells' records)."""
    from ..config import PRESETS, overlay_changes, run_config_in

    config = getattr(a, "config", None)
    files = replay_files(a)
    file_cfg = (_as_fit_read(run_config_in(files.file().contents, Path(config)), Path(config), files)
                if config and files is not None else None)
    try:
        with _values_of(config):
            cfg = run_config_from_args(a, res, ch)
            if file_cfg is not None:
                ref = _file_reference_args(str(config), files)
                ref_cfg = run_config_from_args(ref, file_cfg.net.resolution, file_cfg.net.channels)
                if file_cfg.preset not in PRESETS:
                    # A custom network: no option expresses it, so the reference (which resolved to the default
                    # preset) is given the file's network, and so is the command line unless it names a preset or a
                    # width itself. Without this an explicit --preset fast would look like no flag at all.
                    ref_cfg = _with_network_of(ref_cfg, file_cfg)
                    if a.preset is None and not getattr(a, "width", None):
                        cfg = _with_network_of(cfg, file_cfg)
                cfg = overlay_changes(file_cfg, ref_cfg, cfg)
                cfg = replace(cfg, data=replace(cfg.data, resolution=res, channels=ch),
                              net=replace(cfg.net, resolution=res, channels=ch))
    except ConfigError as e:
        raise _said_with_config(e, a, config) from None
    return cfg


def _said_with_config(e: ConfigError, a: argparse.Namespace, config: str | None) -> ConfigError:
    """A refusal of the options resolved with a --config file, in the words of where the refused value came from: a
    flag typed on the command line by that flag; a flat file's key as the file writes it, naming the file and the
    option it sets (`cfg.json: total_kimg must be a positive number, got 0 (the --total-kimg setting)`). Checked
    inside config.file_values, a setting is named by its field, which was right for neither: `total_kimg must be a
    positive number, got 0.0 (options from the command line and cfg.json)` named no key of the file, and a typed
    --total-kimg by a field the user had not written. Settings that cannot go together (ConfigError.settings) are
    each named so (_combined_said). Other refusals say both places, as before; a refusal of a file (ConfigError.file:
    a run's own config file, checked as it is read, the file's own keys and values) names it already, and is left as
    it is."""
    from ..config import shown, typed_value

    # told by the part, not by the words starting with the file's name: those held for a refusal of `train.lr` with
    # a file named `train` (said as neither the file's key nor the flag typed), and missed one reworded or naming the
    # file as pathlib spells it (./run.yaml as run.yaml), which, its setting's parts kept, was worded as a flag's
    if not config or e.file is not None:
        return e
    # (set_from_config's, as the file has them; None for a run's own config file)
    written = getattr(a, "config_written", None)
    if written is not None:
        # (the flat file they are of: a file typed beside --resume goes over the run's config.yaml, a.config)
        config = getattr(a, "config_written_in", None) or config
    if e.settings:
        return _combined_said(e, a, config, written)
    written = written or {}
    if e.setting is not None and e.flag:
        dest = e.flag[2:].replace("-", "_")
        if option_given(a, dest):
            typed = typed_value(e.flag, e.value)
            return ConfigError(f"{e.flag} {e.problem}, got {shown(e.value) if typed is None else typed}")
        if dest in written:
            key, raw = written[dest]
            return ConfigError(f"{config}: {key} {e.problem}, got {shown(raw, from_file=True)} (the {e.flag} setting)")
    return ConfigError(f"{e} (options from the command line and {config})")


def _combined_said(e: ConfigError, a: argparse.Namespace, config: str,
                   written: dict[str, tuple[str, Any]] | None) -> ConfigError:
    """_said_with_config's words for settings that cannot go together: each by where its value came from, a flag typed
    (`--compile reduce-overhead`), a flat file's key (`cuda_graphs='on'`) or a run's own config file's (written None:
    `train.compile='reduce-overhead'`), the file named before the words where every one came from it, after them
    where some did; a setting from neither (a default) by its field, with both places, as before."""
    from ..config import shown

    names, keys, other = [], [], False
    for flag, field, option_text, value in e.settings:
        dest = flag[2:].replace("-", "_") if flag else None
        if dest is not None and option_given(a, dest):
            names.append(f"{flag} {option_text}")
        elif written is None:
            names.append(f"{field}={shown(value, from_file=True)}")
            keys.append(field)
        elif dest is not None and dest in written:
            key, raw = written[dest]
            names.append(f"{key}={shown(raw, from_file=True)}")
            keys.append(key)
        else:
            names.append(f"{field}={shown(value, from_file=True)}")
            other = True
    said = e.problem.format(*names)
    if other:
        return ConfigError(f"{said} (options from the command line and {config})")
    if keys and len(keys) == len(names):
        return ConfigError(f"{config}: {said}")
    return ConfigError(f"{said} ({', '.join(keys)} in {config})" if keys else said)
