"""Typed, frozen configuration. Every run directory stores the resolved config as JSON (and YAML).

The config is split by concern so that each layer only sees what it needs:
  DataConfig  -> wildgan.data        (what images, which split, which contamination)
  NetConfig   -> wildgan.nets        (architecture widths and sizes)
  TrainConfig -> wildgan.training    (schedule, optimiser, losses)
  ScoreConfig -> wildgan.scoring     (how test-time scores are computed)
"""

from __future__ import annotations

import contextvars
import dataclasses
import math
import numbers
import os
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any, Callable, Iterable, Iterator, TypeVar

from .errors import ConfigError, in_cli, option_words, warn_user
from .fileio import version_state

T = TypeVar("T")

# Minibatch size per resolution: the paper / pGAN "preset-v2-1gpu" values (spec 3.3).
PAPER_MINIBATCH: dict[int, int] = {4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8}


# the largest seed: torch seeds its generators with 64-bit values and training also draws with seed + 1
MAX_SEED = 2 ** 64 - 2


# Values checked while a config file is read (file_values): their messages spell None, True and False as the file
# does (null, true, false), not as Python does: "got None" for the user's `null` read as another language
_FILE_VALUES: contextvars.ContextVar[bool] = contextvars.ContextVar("wildgan_config_file_values", default=False)


@contextmanager
def file_values() -> Iterator[None]:
    """Inside, the config checks' messages show values as a JSON or YAML file spells them (null, true, false)."""
    token = _FILE_VALUES.set(True)
    try:
        yield
    finally:
        _FILE_VALUES.reset(token)


# The option values typed on the command line of the CLI's command in progress, {dest: text as typed} (cli.main sets
# them): a refusal that names an option echoes its value as typed (typed_value), not as the option's type converted
# it: argparse's float('-1') is -1.0, and "--lr must be a positive number, got -1.0" showed what nobody wrote
_TYPED_TEXTS: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("wildgan_typed_texts",
                                                                                     default=None)


@contextmanager
def typed_option_texts(texts: dict[str, str]) -> Iterator[None]:
    """Inside, the refusals of a value that names its option say the value as `texts` ({dest: text}) has it typed."""
    token = _TYPED_TEXTS.set(dict(texts))
    try:
        yield
    finally:
        _TYPED_TEXTS.reset(token)


# The values the flags typed on the command line of the CLI's `train` give the settings of a run config, as a function
# (flag, field) -> value that raises LookupError where the flag was not typed (cli.config_args.typed_setting_values
# makes it; cli.main sets it): a run's own config file read inside (run_config_in) takes a typed flag's value for a
# setting it refuses. Why: its refusal names that flag ("(the --total-kimg setting)"), and the flag given beside the
# file was refused with the same words, as the whole file was checked before the flags were applied
_TYPED_SETTINGS: contextvars.ContextVar[Callable[[str, str], Any] | None] = contextvars.ContextVar(
    "wildgan_typed_settings", default=None)


@contextmanager
def typed_settings(value_of: Callable[[str, str], Any] | None) -> Iterator[None]:
    """Inside, a run's own config file (run_config_in) takes the value `value_of(flag, field)` for a setting it refuses
    whose flag the command line typed (LookupError: it did not); None: the files are read as they are."""
    token = _TYPED_SETTINGS.set(value_of)
    try:
        yield
    finally:
        _TYPED_SETTINGS.reset(token)


def typed_value(flag: str | None, v: Any) -> str | None:
    """`v`, the refused value of the option `flag`, as the user typed it on the command line (as_typed), where the
    text typed for `flag` reads as `v`; None elsewhere (no command line, a value from a file, another value)."""
    texts = _TYPED_TEXTS.get()
    if not texts or flag is None or _FILE_VALUES.get():
        return None
    text = texts.get(flag[2:].replace("-", "_"))
    if text is None:
        return None
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        try:
            same = float(text) == float(v)          # (NaN equals nothing: said as Python says it)
        except (ValueError, OverflowError):
            same = False
    else:
        same = text == v
    return as_typed(text) if same else None


def shown(v: Any, from_file: bool = False) -> str:
    """A value in a config check's message: as a JSON/YAML file spells it inside file_values() or where `from_file`
    (a value known to be a file's), else Python's repr. A file's mapping or list of the wrong type is said as the
    file writes it ({"a": 1}, [1, 2]), not as Python's {'a': 1} or the tuple (1, 2) it was read into; its text keeps
    its quotes ('20', not 20: the quotes are what is wrong where a number belongs). A float NaN or infinity is said as
    JSON writes it (NaN, -Infinity), as inside a mapping or list: Python's nan / -inf is no file's spelling."""
    if from_file or _FILE_VALUES.get():
        if v is None or isinstance(v, bool):
            return "null" if v is None else str(v).lower()
        if isinstance(v, (dict, list, tuple, float)):
            return as_typed(v)
    return repr(v)


def setting_words(flag: str | None, field: str) -> str:
    """A setting as a config check's message names it: `flag`, the option that sets it, during a command of the CLI
    (errors.option_words), whose user typed the flag, not the field; `field` for a Python caller, for a setting with
    no option (flag None), and for values read from a file (file_values: a run's config.json, a --config file),
    which spell it so."""
    return field if flag is None or _FILE_VALUES.get() else option_words(flag, field)


def setting_value_words(flag: str, field: str, typed: str, v: Any) -> str:
    """A setting with its value, as a message that names two settings says them: `--compile reduce-overhead` where
    setting_words names the option (`typed`: the value as the option takes it, on for True), else
    `train.compile='reduce-overhead'` (`v` as `shown` says it: true in a file's words)."""
    return f"{flag} {typed}" if setting_words(flag, field) == flag else f"{field}={shown(v)}"


def bad_setting(flag: str | None, field: str, problem: str, v: Any) -> ConfigError:
    """The refusal of `v` as the value of a setting: "NAME PROBLEM, got V", NAME as setting_words says it, with the
    parts kept (ConfigError.setting ...) for a caller that names the setting as the place the value came from does."""
    named = setting_words(flag, field)
    typed = typed_value(flag, v) if named == flag else None
    return ConfigError(f"{named} {problem}, got {shown(v) if typed is None else typed}", setting=field, flag=flag,
                       problem=problem, value=v)


def combined_settings(words: str, *settings: tuple[str, str, str, Any]) -> ConfigError:
    """The refusal of settings that cannot go together: `words` with {0}, {1}, ... where each of `settings` (flag,
    field, the value as the option takes it, the value) is named as setting_value_words names it, with the parts
    kept (ConfigError.settings, and `words` as its problem) for a caller that names each setting as the place its
    value came from (a --config file's key: cli.config_args) or takes a typed flag's value for one (run_config_in)."""
    named = [setting_value_words(*one) for one in settings]
    return ConfigError(words.format(*named), problem=words, settings=tuple(settings))


def as_typed(v: Any) -> str:
    """A value a person gave (an option's text, an environment variable, a config file's value) in a message, as they
    typed it: text without Python's quotes and escapes (C:\\data, not 'C:\\\\data'), quoted only where the quotes
    show something (empty or blank text, spaces at either end); None, true and false as `shown` spells them; any
    other value as JSON writes it ([1, 2], not Python's). Text holding a character that does not print (a line
    break, a tab, a no-break space) keeps Python's escapes: raw, it broke the one-line message or hid what differs."""
    if isinstance(v, str):
        if not v.isprintable():
            return repr(v)
        return f"'{v}'" if not v.strip() or v != v.strip() else v
    if v is None or isinstance(v, bool):
        return shown(v)
    import json

    try:
        return json.dumps(v)
    except (TypeError, ValueError):
        return repr(v)


def names_text(names: Iterable[Any]) -> str:
    """Names (keys, sections, options, choices) in a message: sorted, each as typed (as_typed), joined by commas:
    `totl_kimg, x`, not Python's `['totl_kimg', 'x']`."""
    return ", ".join(as_typed(n) for n in sorted(names, key=str))


def nearest_name(word: Any, choices: Iterable[str]) -> str | None:
    """The one of `choices` that `word` most probably misspells (difflib, as the CLI's unrecognised options), or
    None when none is close."""
    import difflib

    if not isinstance(word, str):
        return None
    choices = list(choices)
    same = [c for c in choices if c.lower() == word.lower()]      # l_r for L_r: a case typo first
    if same:
        return same[0]
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_names_text(what: str, unknown: Iterable[Any], known: Iterable[str], list_known: bool = True) -> str:
    """'unknown key totl_kimg (did you mean total_kimg?)' of the `unknown` names among `known` ones ('key', 'option',
    'section'); where none is close to a known one, the known ones are listed instead (unless not `list_known`: too
    many for a line, which the caller points to instead)."""
    unknown, known = sorted(unknown, key=str), sorted(known)
    said = ", ".join(as_typed(n) + (f" (did you mean {m}?)" if (m := nearest_name(n, known)) else "") for n in unknown)
    plural = "s" if len(unknown) > 1 else ""
    if not list_known or any(nearest_name(n, known) for n in unknown):
        return f"unknown {what}{plural} {said}"
    return f"unknown {what}{plural} {said} (known {what}s: {', '.join(known)})"


def thread_counts(value: Any) -> list[int]:
    """The intra-op thread counts a networks record's `intra_op_threads` names, in the order the run's sessions
    trained under them: [n] for one count (an int: every record of a run trained under one count, and every record
    written before the counts of resumed sessions were carried forward), the list for several, [] where it says none
    (absent, or not counts)."""
    values = value if isinstance(value, list) else [value]
    counts = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v > 0]
    return counts if counts and len(counts) == len(values) else []


def threads_record(earlier: Any, now: int, trained: bool = True) -> int | list[int]:
    """`intra_op_threads` for networks a session writes: `now` (the session's count) after the counts of the
    checkpoint it resumed (`earlier`, its intra_op_threads; thread_counts), a change in order, as a list where they
    differ and a single int where one count trained them all (what a reader of a run never resumed under another
    finds, as before). `trained`: the session trained the networks (a finished run's resume writes its networks
    again, trained by the earlier counts alone). A checkpoint that does not say (written before the field): `now`."""
    counts = thread_counts(earlier)
    if not counts:
        return now
    if trained and counts[-1] != now:
        counts.append(now)
    return counts[0] if len(counts) == 1 else counts


def threads_text(value: Any) -> str | None:
    """'1 intra-op thread', '4 intra-op threads', '1 then 2 intra-op threads' (sessions of a resumed run) of a
    recorded intra_op_threads; None where it says none."""
    counts = thread_counts(value)
    if not counts:
        return None
    return f"{' then '.join(map(str, counts))} intra-op thread{'' if counts == [1] else 's'}"


def dist_timeout_problem(timeout_min: float, typed: str) -> str | None:
    """What is wrong with a distributed job's timeout of `timeout_min` minutes (`typed`: the value as the user gave
    it), None when nothing is. Its own function because the CLI checks --dist-timeout when it reads the options, with
    --distributed or without it: a value no job could take was otherwise let through, with a warning that it is
    ignored, until the same command line got --distributed. Here, not beside training.distributed.init_distributed
    (the other check of it), since that module imports torch, which reading the command line does not."""
    # (the upper bound: a timedelta torch can pass on to the process group's C++ side; 10**7 minutes is 19 years)
    if not 0 < timeout_min <= 10**7:
        return f"must be a number of minutes above 0, got {typed}"
    return None


def kernels_from_env() -> str:
    """WILDGAN_KERNELS: 'auto' (unset or empty) or 'plain'. auto: on CUDA, G's pixel norm as torch's fused RMS norm,
    the minibatch stddev's variance as one torch.var, and each training forward's run-time weights made in one block
    (nets.layers.FlatWeights); and on the fast path (every CUDA run; on the CPU with bf16 autocast, channels_last or
    DDP) the D step's D(real) and D(fake) as one forward of both minibatches (training.loop.StepRunner.pair_critic).
    plain: every layer's own arithmetic, as on the CPU, and two critic passes, as the plain path. The same maths
    either way (up to float rounding, ~1e-7 relative; the merged pass's values within 1e-6 of two passes); plain is
    the way to tell a problem of these GPU speed paths on some GPU or torch build from any other, in every command and
    the Python API (and in torchrun's ranks, which inherit it). The merged pass is off under plain although it uses no
    kernel of its own: its values are not bitwise those of two passes (cuDNN picks its algorithms for the stacked
    batch), no GPU has run it yet, and the fallback (benchmarks/gpu_session.py's) must leave no untried speed path
    that could be the fault. A ConfigError for anything else, which `wildgan` says before it starts."""
    raw = os.environ.get("WILDGAN_KERNELS", "").strip().lower()
    if raw in ("", "auto", "plain"):
        return raw or "auto"
    raise ConfigError(f"WILDGAN_KERNELS={as_typed(os.environ['WILDGAN_KERNELS'])}: use auto (the default: fused "
                      f"kernels on CUDA) or plain (each layer's own arithmetic)")


# The option of `wildgan train` that sets each run config field that has one, by the field's section and key, as the
# checks name it to a CLI user (bad_setting, _check_numbers) and a value of the wrong type is refused with it
# (_type_error): one table for both, so that a flag typed beside a run's config file replaces the file's value
# whichever check refused it (run_config_in). Every option that sets one field alone, to the value the option gives
# it (cli.config_args.typed_setting_values: --ema-warmup off is false, --channels-last auto null). Not here, as no
# typed value replaces the field's alone: --width (fmap_max, fmap_base and N_z at once), --data (made absolute by way
# of --dataset and $WILDGAN_DATA, which may refuse it as a DataError), --no-train-scores (one of two flags of
# train.train_scores, --train-scores the other: the table names one, whose value a typed --train-scores is not),
# --preset and --method (no section's key), --normal and --exclude (lists, which no type check refuses). A check
# whose words are the field's values, not its option's (train.channels_last "must be true, false or null"), names
# no option itself: bad_setting(None, ...)
SETTING_FLAGS = {
    **{f"data.{k}": f"--{k.replace('_', '-')}" for k in (
        "seed", "contamination", "test_size", "square", "depth16", "dataset", "resolution", "channels", "rotations",
        "skip_bad", "resize", "download")},
    "net.resolution": "--resolution", "net.channels": "--channels", "net.latent_size": "--latent-size",
    **{f"train.{k}": f"--{k.replace('_', '-')}" for k in (
        "phase_kimg", "transition_kimg", "total_kimg", "lr", "minutes", "checkpoint_kimg", "sample_kimg",
        "keep_checkpoints", "seed", "threads", "amp", "gp_precision", "compile", "on_divergence", "encoder_loss",
        "device", "channels_last", "cuda_graphs", "ema_warmup", "tensorboard", "gp_target", "g_image_loss")},
    "fanogan.dim": "--fanogan-dim", "fanogan.gan_iters": "--fanogan-iters", "fanogan.enc_iters": "--fanogan-enc-iters",
    "fanogan.minutes": "--minutes", "fanogan.seed": "--seed", "fanogan.device": "--device",
    "fanogan.bn_warmup": "--fanogan-bn-warmup",
    "search.steps": "--search-steps"}


def _refused(field: str, problem: str, v: Any) -> ConfigError:
    """bad_setting of a run config's `field` (section.key), named by its option where SETTING_FLAGS has one."""
    return bad_setting(SETTING_FLAGS.get(field), field, problem, v)


def _check_numbers(obj: Any, rules: dict[str, str], prefix: str = "") -> None:
    """Refuse a bad number before anything is built or written (a negative lr, a zero interval, ...), naming the
    field: '>0' positive, '>=0' non-negative, '>=1' / 'int>=0' whole numbers, '[0,1)' / '[0,1]' a fraction, 'seed'
    an int in [0, MAX_SEED] (a float seed would be truncated without a word); None
    is allowed where the field is
    optional (annotated `X | None`). Every value must also be finite. A field's option (SETTING_FLAGS, by prefix +
    name) is named instead during a command (setting_words)."""
    # a null in a hand-edited config.json (score.kappa: null) passed here and failed mid-scoring as a bare TypeError:
    # None is taken only where the field's annotation allows it (strings: `from __future__ import annotations`)
    optional = {f.name for f in dataclasses.fields(obj) if "None" in (t.strip() for t in str(f.type).split("|"))}
    for name, rule in rules.items():
        v = getattr(obj, name)
        if v is None and name in optional:
            continue
        if v is None:
            ok = False
        elif rule == "seed":
            # (numpy integers too: a seed taken from an array of seeds)
            ok = isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= int(v) <= MAX_SEED
            if ok and type(v) is not int:
                object.__setattr__(obj, name, int(v))       # (a numpy integer is no JSON number: the config is)
        else:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if ok and rule != "seed":
            whole = float(v).is_integer()
            ok = {">0": v > 0, ">=0": v >= 0, "int>=0": whole and v >= 0, ">=1": whole and v >= 1,
                  "[0,1)": 0 <= v < 1, "[0,1]": 0 <= v <= 1}[rule]
        if not ok:
            want = {">0": "a positive number", ">=0": "a number >= 0", "int>=0": "a whole number >= 0",
                    ">=1": "a whole number >= 1", "[0,1)": "a number in [0, 1)", "[0,1]": "a number in [0, 1]",
                    "seed": "a whole number from 0 to 2**64 - 2"}[rule]
            raise _refused(prefix + name, f"must be {want}", v)


def percent_hint(v: Any, what: str) -> str:
    """' (WHAT: for 5% give 0.05)' for a share given as a percent (a real number from 1 up to 100), else '': the
    likely slip behind a rate refused as out of its range (train's and study's --contamination, a threshold's
    expected contamination), which the bare range did not name."""
    # (compared as given, converted only once in range: float() of an int past a float's range, 10**400, was an
    # OverflowError in place of the refusal this hint is part of)
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not 1 <= v < 100:
        return ""
    return f" ({what}: for {float(v):g}% give {float(v) / 100:g})"


@dataclass(frozen=True)
class NetConfig:
    """Architecture of the progressive G, D and E (spec 1-2). nf(stage) = min(fmap_base / 2^stage, fmap_max)."""

    resolution: int = 32          # final resolution R (power of two, >= 4)
    channels: int = 3             # 1 = gray, 3 = RGB
    fmap_base: int = 8192
    fmap_max: int = 512
    fmap_decay: float = 1.0
    latent_size: int = 0          # N_z; 0 = nf(0) as in the authors' code
    mbstd_group: int = 4          # minibatch-stddev group size

    def __post_init__(self) -> None:
        r = self.resolution
        # the type first: a string or float from a damaged config.json made the comparison below a bare TypeError
        if not isinstance(r, int) or isinstance(r, bool) or r < 4 or r & (r - 1):
            raise _refused("net.resolution", "must be a power of two >= 4", r)
        if self.channels not in (1, 3):
            raise _refused("net.channels", "must be 1 or 3", self.channels)
        _check_numbers(self, {"fmap_base": ">=1", "fmap_max": ">=1", "fmap_decay": ">=0", "latent_size": "int>=0",
                              "mbstd_group": ">=1"}, "net.")
        # scoring pads its batches to multiples of 4 (the spec's group; scoring.batch_order, score.batch_size): a
        # group of 8 trained, then stopped the run's first scoring of 20 images with minibatch_stddev's ValueError
        if self.mbstd_group not in (1, 2, 4):
            raise bad_setting(None, "net.mbstd_group", "must be 1, 2 or 4 (a divisor of the 4-image groups scoring "
                              "pads its batches to; the spec's is 4)", self.mbstd_group)
        # the channel count halves per level from fmap_base: at a high resolution a small base reaches 0 channels
        # (tiny's 256 at 1024x1024), which no layer can have
        thin = [s for s in range(self.resolution_log2) if self.nf(s) < 1]
        if thin:
            raise ConfigError(f"resolution {r} needs more channels than this width has: nf(level) = fmap_base / "
                              f"2^(level * fmap_decay) reaches 0 at level {thin[0]} (fmap_base {self.fmap_base:g}, "
                              f"fmap_decay {self.fmap_decay:g}); choose a wider "
                              f"preset or {option_words('--width', 'width=')}, or a smaller resolution")
        if self.latent_size == 0:
            object.__setattr__(self, "latent_size", self.nf(0))

    def nf(self, stage: int) -> int:
        return min(int(self.fmap_base / (2.0 ** (stage * self.fmap_decay))), self.fmap_max)

    @property
    def resolution_log2(self) -> int:
        return int(math.log2(self.resolution))


# Width presets. FLOPs scale with width^2, so `fast` (64 channels, the width of the spec's CPU run that showed
# the paper's effect) is ~64x cheaper than `paper` (512: 3.48 against 221.9 training GFLOP per 32x32 image);
# `tiny` (16 channels) is for tests and the demo.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"fmap_base": 8192, "fmap_max": 512, "minibatch": PAPER_MINIBATCH},
    "fast": {"fmap_base": 1024, "fmap_max": 64, "minibatch": PAPER_MINIBATCH},
    "tiny": {"fmap_base": 256, "fmap_max": 16,
             "minibatch": {4: 16, 8: 16, 16: 16, 32: 8, 64: 8, 128: 4, 256: 4}},
}


def net_config_for_preset(preset: str, resolution: int, channels: int, *, width: int | None = None,
                          latent_size: int | None = None) -> NetConfig:
    """The networks of a named preset (paper / fast / tiny) for images of this resolution and channels. width W (the
    CLI's --width, Detector(width=W)) replaces the preset's: fmap_max = W, fmap_base = 16 W (so nf(stage) =
    min(16 W / 2^stage, W)) and N_z = W; latent_size (--latent-size) then sets N_z alone. Both are whole numbers
    >= 1 (numpy's integers too) or None (the preset's); anything else is a ConfigError that names the parameter."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {as_typed(preset)}; choose one of {', '.join(PRESETS)}")
    for name, v in (("width", width), ("latent_size", latent_size)):
        # the type first, as Detector(width=) checks it: a string made `v < 1` a bare TypeError, and a numpy integer
        # or a float reached NetConfig, which named fmap_max / fmap_base instead of the width it was given (or, for
        # 64.0, built a float channel count that torch refused only when the networks were made)
        if v is not None and not (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1):
            raise ConfigError(f"{name} must be a whole number >= 1 (None = the preset's), got {shown(v)}")
    width, latent_size = (None if v is None else int(v) for v in (width, latent_size))
    p = PRESETS[preset]
    # e.g. preset paper at width 256: the issue's width-256 run; the latent size stays nf(0) = the width. One
    # NetConfig of the final widths: the preset's own, built first, refused `--preset tiny --width 64` at 1024x1024
    # (tiny's 16 channels run out there) and told to choose a --width, the very one given
    base, top = (p["fmap_base"], p["fmap_max"]) if width is None else (16 * width, width)
    n_z = latent_size if latent_size is not None else 0 if width is None else width
    return NetConfig(resolution=resolution, channels=channels, fmap_base=base, fmap_max=top, latent_size=n_z)


# DataConfig.data of a run trained on the embedded MNIST sample: recorded as this name, not as null (which reads
# $WILDGAN_DATA first), so that a `--config` replay or an evaluation uses the sample whatever the environment says,
# and not as the sample's path inside one installation
SAMPLE_TOKEN = "wildgan:mnist-sample"
# where the sample lies inside any installation (data/readers.py's default_sample_path): a path ending so names the
# sample of some installation, this one's or another's (a checkout moved, a reinstall into another site-packages)
SAMPLE_PATH_TAIL = ("wildgan", "data", "sample", "mnist-sample.npz")


def is_sample_path(data: Any) -> bool:
    """Whether `data` (a DataConfig.data, or a split.json `source`) names the embedded MNIST sample: SAMPLE_TOKEN,
    or the sample's path inside any installation of wildgan. Runs record the sample's own path in split.json (and,
    before SAMPLE_TOKEN, in config.json), and that path is another one wherever the package is installed next."""
    if not isinstance(data, (str, PurePath)) or str(data) in ("", "None"):
        return False
    if str(data) == SAMPLE_TOKEN:
        return True
    # (by the parts of the path, not by what is there now: the other installation may be gone)
    return tuple(PurePath(str(data)).parts[-len(SAMPLE_PATH_TAIL):]) == SAMPLE_PATH_TAIL


# what each image-fit rule does (split.json's conversion 'fit', Detector's resize_mode, DataConfig.fit), for the
# messages that name them: 'pad' and 'letterbox' were confused, --square's old value 'pad' being letterbox
FIT_NAMES = ("resize: centre-crop to a square, then resize; pad: zero-pad an image no larger than the resolution to "
             "it, centred (larger ones as resize); letterbox: pad to a square with black bars, then resize (the "
             "CLI's --square letterbox, formerly --square pad)")
# the warning for square / --square 'pad', letterbox's old name: {given} as typed, {new} the name to use
SQUARE_PAD_RENAMED = ("{given} is the old name of {new}: non-square images padded to a square with black bars "
                      "(split.json records fit 'letterbox'), done so; use the new name. (fit / resize_mode 'pad' is "
                      "another rule: zero-padding images smaller than the resolution)")
# square's old names, each with the name it has now (also the training-score cache key's renamed values,
# scoring.train_scores.KEY_VALUES_RENAMED: the rename leaves a run's cache valid)
SQUARE_OLD_NAMES = {"pad": "letterbox"}
# how an old name is said in the warning, by where it was given: (as given, the name to use)
_SQUARE_GIVEN = {"cli": ("--square {old}", "--square {new}"), "api": ("DataConfig(square='{old}')", "square='{new}'")}


def square_name(square: Any, given: str | None = None, warn: Callable[[str], None] | None = None) -> Any:
    """square (DataConfig.square, --square) by its name now: an old name (SQUARE_OLD_NAMES: 'pad') is the rule it
    names; anything else as it is, for DataConfig to check. The one place the old name is read, so that the CLI, the
    Python API and a run's record read it alike. given: where the user gave it, 'cli' (--square, typed or from a
    flat --config file) or 'api' (DataConfig(square=...)): an old name is then warned about (SQUARE_PAD_RENAMED,
    said by `warn`, default errors.warn_user). None reads it in silence: a run's own record of it (not the user's
    typing, run_config_from_dict), or a value warned about already (the CLI's main warns before its DataConfig)."""
    if not isinstance(square, str) or square not in SQUARE_OLD_NAMES:
        return square
    if given is not None:
        names = {"old": square, "new": SQUARE_OLD_NAMES[square]}
        was, now = (f.format(**names) for f in _SQUARE_GIVEN[given])
        (warn or warn_user)(SQUARE_PAD_RENAMED.format(given=was, new=now))
    return SQUARE_OLD_NAMES[square]


def _is_class_label(v: Any) -> bool:
    """Whether v names a class by its integer label (3, numpy's int64; not true or false, which name none)."""
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


@dataclass(frozen=True)
class DataConfig:
    """Which images to train and test on. See wildgan.data.build_split."""

    data: str | None = None              # path; SAMPLE_TOKEN = the embedded sample; None = $WILDGAN_DATA,
                                         # else the sample
    dataset: str = "auto"                # auto | cifar10 | chula-rbc12 | mnist | folder | npz | cifar-batches
                                         # | unlabelled
    normal: tuple[str, ...] = ()         # normal class(es): names or integer labels as strings; () (or None, a
                                         # file's null) = the protocol's default
    contamination: float = 0.0           # gamma: fraction of anomalies in the final training set
    resolution: int | None = None        # None = protocol default (next power of two >= image size)
    channels: int | None = None          # None = protocol default (1 for gray data, 3 for RGB)
    seed: int = 0                        # drives contamination draw and test-set draw
    rotations: int | None = None         # extra random rotations per training image; None = protocol default
    test_size: str = "paper"             # paper | all
    exclude_classes: tuple[str, ...] = ()  # classes dropped from train and test (e.g. elliptocyte)
    test_fraction: float = 0.2           # held-out fraction when the data has no test split
    skip_bad: bool = False               # skip unreadable files (listed in the run dir) instead of failing
    resize: str = "resize"               # resize | error : what to do with images of other sizes
    depth16: str = "per-image"           # per-image | global | shift | bits:N (N = 9..16): 16-bit -> 8-bit
    # crop | letterbox: non-square images centre-cropped, or padded to a square with black bars (split.json's fit
    # 'letterbox'). 'pad', its first name, is read as letterbox by square_name (a warning where it is given; a run's
    # record of it in silence, run_config_from_dict): 'pad' is also the name of fit's zero-padding of small images
    square: str = "crop"
    fit: str | None = None               # resize | pad | letterbox: overrides the protocol's (Detector resize_mode)
    download: bool = False               # fetch CIFAR-10 from its public URL when `data` does not exist
    # how the N_a contaminants are drawn (wildgan.data.splits): "nested", the first N_a of the anomalous training
    # pool ordered by a seeded hash of each id, so that a smaller gamma's contaminants are among a larger one's at
    # the same seed; "choice", numpy's Generator.choice, whose draws at two gammas are unrelated: the rule of runs
    # recorded before this field existed (run_config_from_dict reads a record without it as "choice")
    contamination_draw: str = "nested"

    def __post_init__(self) -> None:
        for name in ("normal", "exclude_classes"):
            v = getattr(self, name)
            if isinstance(v, str) or _is_class_label(v):
                # normal="automobile" (or "cat,dog", or 3) would otherwise be read letter by letter: one name (a
                # comma-separated list, as on the command line), the way a user means it
                object.__setattr__(self, name, tuple(c.strip() for c in str(v).split(",") if c.strip()))
            elif isinstance(v, (list, tuple)) and all(isinstance(c, str) or _is_class_label(c) for c in v):
                object.__setattr__(self, name, tuple(str(c) for c in v))
            elif v is None:
                # a file's `normal: null` (or DataConfig(normal=None)) means the protocol's default, as leaving it out
                # does: kept as None, the config differed from one without it, so a resume of its run refused
                # 'data.normal: None -> []' and a replay took the file's own settings for others asked on purpose
                object.__setattr__(self, name, ())
            else:
                # a hand-edited config.json's `"normal": {"a": 1}` (or 2.5, true, a list of mappings) was kept as it
                # was, or read as the text of a mapping: no class is named so, and the run's commands failed far
                # from the file, or chose no class at all
                # (a file's list, which from_dict made a tuple, said as the file has it)
                said = list(v) if isinstance(v, tuple) and _FILE_VALUES.get() else v
                raise _refused(f"data.{name}", "must be a class name or a whole-number label, or a list of them",
                               said)
        _check_numbers(self, {"seed": "seed"}, "data.")
        c = self.contamination
        # (a string from a form or os.environ was a bare TypeError of the comparison below)
        if not isinstance(c, numbers.Real) or isinstance(c, bool) or not (0.0 <= c < 1.0):
            # a percentage (2 for 2%) is the likely slip: the fraction it means said, as study's --contamination does
            hint = percent_hint(c, "a fraction of the training set")
            raise _refused("data.contamination", f"must be in [0, 1){hint}", c)
        if type(c) not in (int, float):
            # (a numpy float32 from an array of rates passed the check above and was a bare TypeError of json when
            # the run's config.json was written; a Fraction likewise)
            object.__setattr__(self, "contamination", float(c))
        if self.test_size not in ("paper", "all"):
            raise _refused("data.test_size", "must be 'paper' or 'all'", self.test_size)
        object.__setattr__(self, "square", square_name(self.square, given="api"))
        if self.square not in ("crop", "letterbox"):
            raise _refused("data.square", "must be 'crop' (centre-crop non-square images) or "
                           "'letterbox' (pad them to a square with black bars; 'pad' is its old name)", self.square)
        # (a config.json's `"resize": "crop"` was read without a word and refused only when the images were read,
        # naming neither the file nor the field; resize and error are every value --resize ever had)
        if self.resize not in ("resize", "error"):
            raise _refused("data.resize", "must be resize or error (images of another size: resize them, or stop "
                           "with an error)", self.resize)
        if self.contamination_draw not in ("nested", "choice"):
            raise bad_setting(None, "data.contamination_draw", "must be nested or choice", self.contamination_draw)
        if self.fit not in (None, "resize", "pad", "letterbox"):
            raise bad_setting(None, "data.fit", f"must be resize, pad or letterbox ({FIT_NAMES})", self.fit)
        # (the rules themselves live in data.transforms, DEPTH16_RULES; refused here, before any data is read)
        if self.depth16 not in ("per-image", "global", "shift", *(f"bits:{n}" for n in range(9, 17))):
            raise _refused("data.depth16", "must be per-image, global, shift or bits:N with N = 9..16 "
                           "(the camera's bit depth, e.g. bits:12)", self.depth16)


# The refusals of train.gp_target and train.g_image_loss, in one wording for every caller that sets them: TrainConfig /
# RunConfig (the CLI's --gp-target / --g-image-loss, a run's config file) and Detector's parameters of the same names,
# whose _validate says the same problem with its own parameter's name
GP_TARGET_PROBLEM = ("must be a positive number, the critic's target gradient norm (1, the authors' code; 750, the "
                     "pGAN paper's CIFAR-10 value)")
# ({0}: g_image_loss with its value, {1}: the encoder loss with its value, each as the caller names them)
G_IMAGE_LOSS_ENCODER_WORDS = ("{0} adds the image-space encoder loss d_I to G's loss, which needs the encoder trained "
                              "with d_I (encoder loss image), not {1}")
G_IMAGE_LOSS_METHOD_PROBLEM = {
    "search": "must be 0 with method search, which trains no encoder (it adds the encoder loss d_I to G's loss)",
    "fanogan": "must be 0 with method fanogan, which trains its own generator and encoder by their own losses (it "
               "adds the encoder loss d_I to the pGAN G's loss)"}


@dataclass(frozen=True)
class TrainConfig:
    """Training of the pGAN + encoder (spec 3). Lengths are in kimg (thousands of real images shown)."""

    # None = the paper's length for the run's resolution (paper_total_kimg: 4000 kimg at 32x32, 5200 at 64x64 with
    # 600/600 phases), filled in by RunConfig: a fixed number would stop a 64x64 run before its last fade-in ends
    total_kimg: float | None = None
    phase_kimg: float = 600.0            # lod_training_kimg: stable phase length per resolution
    transition_kimg: float | None = None  # lod_transition_kimg: fade-in length; None = phase_kimg
    minibatch: dict[int, int] = field(default_factory=lambda: dict(PAPER_MINIBATCH))
    minibatch_repeats: int = 4           # schedule (lod, batch) re-evaluated every this many iterations
    lr: float = 1e-3
    beta1: float = 0.0
    beta2: float = 0.99
    adam_eps: float = 1e-8
    gp_lambda: float = 10.0
    gp_target: float = 1.0
    drift: float = 0.001
    ema_beta: float = 0.999              # Gs <- beta*Gs + (1-beta)*G once per iteration (see loop.py on when)
    # Warm-up of the EMA: beta_t = min(ema_beta, (1 + t) / (10 + t)) at iteration t (TensorFlow's
    # ExponentialMovingAverage num_updates rule). With a constant 0.999, Gs after t iterations still holds
    # 0.999^t of its random initialisation (69% after 375 iterations, the length of a short CPU run), so every
    # residual score of a short run measured noise. beta_t reaches 0.999 at t = 8,990; the paper's CIFAR schedule runs
    # 39,060 iterations, after which the two differ by < 1e-13 of the weights. False = the authors' code exactly.
    ema_warmup: bool = True
    latent_scale: float = 0.1            # z ~ latent_scale * N(0, I) in the training losses (spec 3.1)
    encoder_loss: str = "image"          # image (d_I, proposed) | latent (d_z ablation) | none (no encoder)
    # Ablation of spec 7 row 3: G's loss becomes -D(G(z)) + g_image_loss * d_I(z), the paper's "G and E updated
    # jointly". 0 (the default) is the released code, whose d_I updates E only; a run recorded before the field
    # existed reads back as 0. The gradient reaches G through G(z), through E's input and through G(E(G(z))); E's
    # weights are frozen in the G step (loop.g_step says why each choice). Needs encoder_loss image: d_I is E's loss.
    g_image_loss: float = 0.0
    seed: int = 0
    minutes: float | None = None         # optional wall-clock budget; stops early with a checkpoint
    checkpoint_kimg: float | None = None  # checkpoint interval; None: default_checkpoint_kimg(total_kimg)
    log_every: int = 20                  # iterations between stats.jsonl rows (and the NaN check)
    sample_kimg: float = 0.0             # generated-sample grid interval; 0 = only at checkpoints
    device: str = "auto"
    keep_checkpoints: int | None = 2     # how many older good checkpoints to keep for fallback; None: every one
    on_divergence: str = "stop"          # stop | rollback
    # Fast path (issue 5). The defaults leave CPU training exactly as it was; on CUDA they switch on bf16 autocast,
    # channels_last and whole-iteration CUDA graphs. See wildgan.training.loop.FastOptions.
    amp: str = "auto"                    # auto (bf16 on CUDA, off on CPU) | off | bf16
    channels_last: bool | None = None    # None = on for CUDA only
    compile: str = "off"                 # off | default | reduce-overhead | max-autotune-no-cudagraphs
    cuda_graphs: bool | None = None      # None = on for CUDA (one process, compile != reduce-overhead)
    # the gradient penalty's critic pass (D on x_hat, its input gradient and the double backward): fp32 (default),
    # or amp: under the same autocast as the rest (bf16 on CUDA; a no-op with amp off). On the CPU, at random init,
    # bf16 moved the GP's gradient w.r.t. D's weights by ~2% (cosine 0.9998) against ~0.9% for the D(real) term
    gp_precision: str = "fp32"           # fp32 | amp
    tensorboard: bool = False            # also log scalars + sample grids to RUN_DIR/tensorboard
    # `wildgan train` scores the training images at the end (RUN_DIR/train_scores.csv, the thresholds' reference);
    # false: --no-train-scores, kept in the config so that a --resume remembers it
    train_scores: bool = True
    # CPU intra-op threads (None = torch's default, i.e. the core count). Short GAN runs amplify float-summation
    # differences between thread counts, so a fixed count makes a CPU run independent of the core count
    # (bit-identical on one machine; another kind of CPU may still round otherwise).
    threads: int | None = None

    def __post_init__(self) -> None:
        _check_numbers(self, {"seed": "seed"}, "train.")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise _refused("train.threads", "must be a whole number >= 1 (unset: torch's default)",
                           self.threads)
        if self.amp not in ("auto", "off", "bf16"):
            raise _refused("train.amp", "must be auto, off or bf16", self.amp)
        if self.gp_precision not in ("fp32", "amp"):
            raise _refused("train.gp_precision", "must be fp32 or amp", self.gp_precision)
        if self.compile not in ("off", "default", "reduce-overhead", "max-autotune-no-cudagraphs"):
            raise _refused("train.compile", "must be off, default, reduce-overhead or "
                           "max-autotune-no-cudagraphs", self.compile)
        for name in ("channels_last", "cuda_graphs"):
            if getattr(self, name) not in (None, True, False):
                # (no flag: the options' on / off / auto are not the field's values, which the problem spells)
                raise bad_setting(None, f"train.{name}", "must be true, false or null (auto)", getattr(self, name))
        if self.compile == "reduce-overhead" and self.cuda_graphs:
            raise combined_settings("{0} already uses CUDA graphs (per compiled region); it cannot be combined with "
                                    "{1} (whole-iteration graphs)",
                                    ("--compile", "train.compile", "reduce-overhead", self.compile),
                                    ("--cuda-graphs", "train.cuda_graphs", "on", self.cuda_graphs))
        if self.encoder_loss not in ("image", "latent", "none"):
            # (none is no option's value: `train --method search` and RunConfig set it, for a loop without E)
            raise bad_setting(None, "train.encoder_loss", "must be image (d_I), latent (d_z) or none (no encoder, "
                              "the latent search's)", self.encoder_loss)
        t = self.gp_target
        if isinstance(t, numbers.Real) and not isinstance(t, bool) and not (math.isfinite(t) and t > 0):
            # (the penalty divides by target^2: 0 is a division by zero, and a negative target the same penalty as
            # its absolute value, so neither is what was meant. NaN and inf too: _check_numbers' bare "must be a
            # positive number" left out what the target is, which -1 was told; other types: its own words)
            raise _refused("train.gp_target", GP_TARGET_PROBLEM, self.gp_target)
        # the phases before the total: a default total is derived from them (paper_total_kimg), so `--phase-kimg 0`
        # alone made it 0 and the message named total_kimg, an option the user had not given
        _check_numbers(self, {"phase_kimg": ">0", "transition_kimg": ">=0", "total_kimg": ">0", "lr": ">0",
                              "beta1": "[0,1)", "beta2": "[0,1)", "adam_eps": ">0", "gp_lambda": ">=0",
                              "gp_target": ">0", "drift": ">=0", "ema_beta": "[0,1]", "latent_scale": ">0",
                              "minutes": ">0", "checkpoint_kimg": ">0", "log_every": ">=1", "sample_kimg": ">=0",
                              "keep_checkpoints": "int>=0", "minibatch_repeats": ">=1", "g_image_loss": ">=0"},
                       "train.")
        if self.g_image_loss > 0 and self.encoder_loss != "image":
            # d_I in G's loss is the image-space encoder loss: with d_z, E is trained for another loss, so G would be
            # pushed to suit an encoder trained for another target (a combination no spec row defines), and
            # without E there is nothing to encode G(z) with
            raise combined_settings(G_IMAGE_LOSS_ENCODER_WORDS,
                                    ("--g-image-loss", "train.g_image_loss", f"{self.g_image_loss:g}",
                                     self.g_image_loss),
                                    ("--encoder-loss", "train.encoder_loss", self.encoder_loss, self.encoder_loss))
        try:
            bad = not self.minibatch or any(isinstance(v, bool) or not float(v).is_integer() or int(v) < 1
                                            or int(k) < 4 for k, v in self.minibatch.items())
        except (TypeError, ValueError, AttributeError):   # (AttributeError: not a mapping, e.g. a hand-edited string)
            bad = True
        if bad:
            raise bad_setting(None, "train.minibatch", "must map resolutions to whole numbers >= 1", self.minibatch)
        if self.on_divergence not in ("stop", "rollback"):
            raise _refused("train.on_divergence", "must be stop or rollback", self.on_divergence)
        mb = {int(k): int(v) for k, v in self.minibatch.items()}
        if len(mb) < len(self.minibatch):
            # keys that differ in spelling or type but name one resolution ({4: 16, '4': 32} in YAML, "4" and "04"
            # in JSON): the duplicate-key check of the file sees two keys, and int() kept the last in silence
            same = [k for k in self.minibatch if sum(int(j) == int(k) for j in self.minibatch) > 1]
            raise ConfigError(f"minibatch gives one resolution more than one size ({', '.join(map(repr, same))}: "
                              f"{self.minibatch}); keep one")
        object.__setattr__(self, "minibatch", mb)

    @property
    def fade_kimg(self) -> float:
        return self.phase_kimg if self.transition_kimg is None else self.transition_kimg


# The per-image anomaly scores, every one higher = more anomalous (z_norm = ||E(Q)||, also computed, points the other
# way: it is a diagnostic, not a score). Defined here, in a module without torch, for the CLI's option choices.
SCORE_NAMES = ("a", "L_n", "L_o", "L_r", "A")

# The threshold rules' parameters when none is given (`wildgan score --threshold`, Detector, the report's threshold
# section; thresholds.py holds the rules). Defined here, without numpy, for the CLI's option defaults: importing
# wildgan.thresholds for them cost `wildgan --help` numpy's import (~50 ms).
DEFAULT_CONTAMINATION = 0.05
DEFAULT_MAD_K = 3.0


def own_score(method: str) -> str:
    """The score a method ranks by: f-AnoGAN's A (its a, from the izi_f encoder, is not what it was made for), else
    the paper's a. What `score --threshold`, `report` and a study's tables use unless told otherwise."""
    return "A" if method == "fanogan" else "a"


# README, 'Which score after a short training': after tens of kimg the encoder has not learned to put anomalies near
# the origin, so `a` (almost L_o) still follows the pixels and can rank a class of anomalies as the most normal images
# of all, where the residual L_r ranks them first. At 168 kimg (the README's GPU table) `a` beat L_r, hence 100. Where
# no labels can say which score to trust (a pile), `wildgan train`'s next step, the report and Detector.fit advise
# L_r below it. Here, below the CLI, the evaluation and the Python API, so that the three cannot disagree.
SHORT_TRAINING_KIMG = 100.0


def short_training(method: str, nimg: int | float | None) -> bool:
    """Whether a run of `method` that trained on nimg images is short enough for `a` to be untrustworthy on a pile
    (SHORT_TRAINING_KIMG): only the wildgan method's `a` comes from its jointly trained encoder."""
    return method == "wildgan" and nimg is not None and nimg < SHORT_TRAINING_KIMG * 1000


@dataclass(frozen=True)
class ScoreConfig:
    """Test-time scoring (spec 4.2)."""

    lam: float = 0.05                    # a = lam * L_n + (1 - lam) * L_o
    batch_size: int = 64                 # mixed, shuffled batches (E contains minibatch stddev)
    shuffle_seed: int = 1000             # fixes batch composition, hence per-image scores
    kappa: float = 1.0                   # weight of the feature term in A
    generator: str = "Gs"                # Gs (EMA, the paper) | G

    def __post_init__(self) -> None:
        # a run's config.json is read back by every score/evaluate/report: a bad value there (lam NaN, batch_size 0,
        # generator 'foo') scored NaN or another generator in silence, or failed with a bare traceback mid-way
        _check_numbers(self, {"lam": "[0,1]", "batch_size": ">=1", "shuffle_seed": "int>=0", "kappa": ">=0"},
                       "score.")
        if self.generator not in ("Gs", "G"):
            raise bad_setting(None, "score.generator", "must be Gs or G", self.generator)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as a JSON-ready dict (tuples as lists, int keys as strings)."""
    d = dataclasses.asdict(cfg)
    for k, v in d.items():
        if isinstance(v, tuple):
            d[k] = list(v)
        if isinstance(v, dict):
            d[k] = {str(kk): vv for kk, vv in v.items()}
    return d


_SCALAR_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,),
                                              "None": (type(None),)}
# each annotation in a message, in a person's words, not Python's ('must be a number', not 'must be float')
_SCALAR_WORDS = {"int": "a whole number", "float": "a number", "str": "a string", "bool": "true or false"}


def _type_error(owner: str, f: dataclasses.Field, v: Any) -> ConfigError | None:
    """The refusal of `v` (bad_setting of `owner.name`, its section and key) when it does not match the field's
    scalar annotation (int, float, str, bool, X | None); None when it does or when the annotation is not a plain
    scalar (tuples, dicts: checked by the dataclass itself). The setting is attached, with its option where it has
    one (SETTING_FLAGS), as the checks of its value attach them: `total_kimg: "abc"` in a run's config file was
    refused with neither, so a --total-kimg typed beside the file (run_config_in) did not replace it."""
    parts = [t.strip() for t in str(f.type).split("|")]
    if not all(t in _SCALAR_TYPES for t in parts):
        return None
    allowed = tuple(c for t in parts for c in _SCALAR_TYPES[t])
    if isinstance(v, allowed) and not (isinstance(v, bool) and bool not in allowed):
        return None
    want = " or ".join(shown(None) if t == "None" else _SCALAR_WORDS[t] for t in parts)
    return _refused(f"{owner}.{f.name}", f"must be {want}", v)


# the section of a run config (config.json/yaml, run_config_to_dict) that each config class is read from: its name in
# a message, as the user's file spells it (`train:`), not the Python class's (TrainConfig)
_SECTION_OF = {"DataConfig": "data", "NetConfig": "net", "TrainConfig": "train", "ScoreConfig": "score",
               "FAnoGANConfig": "fanogan", "SearchConfig": "search"}


def from_dict(cls: type, d: dict[str, Any], check_types: bool = False) -> Any:
    """Build a config dataclass from a dict, refusing unknown keys (a typo must not be silently ignored): the
    message names the section as a run config's file has it (the train section), suggests the key a typo was
    probably meant to be, and lists the keys plainly.

    check_types: also refuse values of the wrong scalar type (e.g. total_kimg: "abc"), for hand-edited files; off by
    default so that configs stored in checkpoints and run directories load exactly as before."""
    section = _SECTION_OF.get(cls.__name__, cls.__name__)
    if not isinstance(d, dict):
        raise ConfigError(f"the {section} section must be a mapping of its keys to their values, got {as_typed(d)}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(names)
    if unknown:
        raise ConfigError(f"the {section} section has {unknown_names_text('key', unknown, names)}")
    kwargs = {}
    for k, v in d.items():
        if check_types and (refused := _type_error(section, names[k], v)):
            raise refused
        if isinstance(v, list):
            v = tuple(v)
        kwargs[k] = v
    return cls(**kwargs)


def overlay_changes(base: T, reference: T, changed: T) -> T:
    """Three-way, field-wise merge of config dataclasses: every leaf field where `changed` differs from `reference`
    takes `changed`'s value, every other field keeps `base`'s. Nested dataclasses (RunConfig's sections) are merged
    field by field; any other value (a dict such as TrainConfig.minibatch, a tuple) is one leaf.

    Why: `wildgan train --config RUN/config.yaml [FLAGS]` must reproduce the run's config exactly, yet only some
    fields have a CLI option. The CLI resolves the options twice, once with the real command line (`changed`) and
    once with only `--config FILE` (`reference`); the fields where the two differ are exactly the ones the explicit
    flags (and whatever is derived from them) changed, and everything else comes from the file (`base`), including
    the fields no option can express. The result is rebuilt with dataclasses.replace, so it is validated again."""
    if dataclasses.is_dataclass(base) and not isinstance(base, type):
        if type(reference) is not type(base) or type(changed) is not type(base):
            raise TypeError(f"overlay_changes: mismatched types {type(base).__name__}, {type(reference).__name__}, "
                            f"{type(changed).__name__}")
        merged = {f.name: overlay_changes(getattr(base, f.name), getattr(reference, f.name), getattr(changed, f.name))
                  for f in dataclasses.fields(base) if f.init}
        return dataclasses.replace(base, **merged)
    return changed if changed != reference else base


@dataclass(frozen=True)
class FAnoGANConfig:
    """The f-AnoGAN baseline (spec 5), faithful to the official release unless noted."""

    dim: int = 64                        # DIM: base width of the residual G/critic
    latent_size: int = 128
    batch_size: int = 16                 # the Berg paper's value (official code: 64)
    n_critic: int = 5
    lr: float = 1e-4
    beta1: float = 0.0
    beta2: float = 0.9
    gp_lambda: float = 10.0
    epochs: float = 7.0                  # TRAIN_EPOCHS; an epoch = floor(N / B) - 5 critic iterations
    gan_iters: int | None = None         # overrides epochs when set (critic iterations)
    enc_iters: int = 50000               # ITERS_ENC for the izi_f encoder
    enc_lr: float = 5e-5                 # RMSProp, TF1 defaults (decay 0.9, eps 1e-10, accumulator starts at 1)
    enc_batch_size: int = 16
    kappa: float = 1.0                   # weight of the feature MSE in the encoder loss and in A
    # BatchNorm of G and E as the official tf.layers.batch_normalization: eps 1e-3, moving-average decay 0.99, and
    # G's moving statistics updated by G steps only (the critic steps' G forward uses batch statistics and leaves
    # them alone). bn_warmup: decay_t = min(bn_decay, (1 + t)/(10 + t)) after t updates, as our Gs EMA warm-up, so
    # that a short run's eval-mode G is not still 0.99^t at the initial (0, 1) statistics; identical to the constant
    # decay after 890 updates, i.e. for the official schedule's thousands of G steps.
    bn_eps: float = 1e-3
    bn_decay: float = 0.99
    bn_warmup: bool = True
    flip: bool = True                    # random horizontal flips (the official loader)
    seed: int = 0
    minutes: float | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        _check_numbers(self, {"dim": ">=1", "latent_size": ">=1", "batch_size": ">=1", "n_critic": ">=1",
                              "lr": ">0", "beta1": "[0,1)", "beta2": "[0,1)", "gp_lambda": ">=0", "epochs": ">0",
                              "gan_iters": ">=1", "enc_iters": "int>=0", "enc_lr": ">0", "enc_batch_size": ">=1",
                              "kappa": ">=0", "bn_eps": ">0", "bn_decay": "[0,1]", "minutes": ">0", "seed": "seed"},
                       "fanogan.")


@dataclass(frozen=True)
class SearchConfig:
    """AnoGAN-style iterative latent search on a pGAN trained without E (spec 4.5)."""

    steps: int = 500
    lr: float = 0.01
    feature_weight: float = 0.1          # loss = (1 - w) * sum|Q - G(z)| + w * sum|f(Q) - f(G(z))|
    batch_size: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        # checked here, not at scoring time after a whole training
        _check_numbers(self, {"steps": "int>=0", "lr": ">0", "feature_weight": "[0,1]", "batch_size": ">=1",
                              "seed": "seed"}, "search.")


def largest_minibatch(minibatch: dict[int, int], resolution: int) -> int:
    """The largest minibatch a schedule up to `resolution` trains with: the fewest images a data set may have (a
    larger minibatch would hold an image twice, and the minibatch-stddev statistic assumes distinct images)."""
    return max(b for r, b in minibatch.items() if r <= resolution)


def default_checkpoint_kimg(total_kimg: float) -> float:
    """The checkpoint interval when none is given: ceil(total / 20) kimg, at least 1 (about 20 checkpoints a run,
    so an interrupted run loses at most 5% of its work, and a short run still gets some)."""
    if not math.isfinite(total_kimg):
        # a NaN or infinite total (from --total-kimg or --phase-kimg nan/inf) made ceil() raise a bare ValueError;
        # TrainConfig refuses that total itself, naming the option it came from
        return 1.0
    return max(1.0, float(math.ceil(total_kimg / 20)))


def paper_total_kimg(resolution: int, phase_kimg: float, fade_kimg: float) -> float:
    """The paper's training length (spec 3.6): growth to full resolution ((log2 R - 2) stable + fade phases), then 2/3
    of a phase at full resolution; 4000 kimg at 32x32 and 5200 at 64x64 with the paper's 600/600 kimg."""
    return (math.log2(resolution) - 2) * (phase_kimg + fade_kimg) + phase_kimg * 2 / 3


RUN_METHODS = ("wildgan", "search", "fanogan")
# What a checkpoint file holds, recorded as its metadata's `kind` by every writer since the first wildgan (checked by
# the loaders in checkpoint.py). Here, torch-free, so that the Detector module (which imports torch lazily) and the
# checkpoint module share one spelling.
TRAIN_STATE_KIND = "wildgan-train-state"   # RUN/checkpoints/ckpt-*: pGAN networks, optimisers, random stream
NETWORKS_KIND = "wildgan-networks"         # RUN/network-final: the pGAN networks only
FANOGAN_KIND = "fanogan"                   # f-AnoGAN, periodic and final
DETECTOR_KIND = "wildgan-detector"         # Detector.save
# the pair's name when det.save / Detector.load (and the CLI's refusal of a saved Detector) are given an existing
# directory DIR: DIR/detector.json + DIR/detector.safetensors
DETECTOR_DIR_NAME = "detector"


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run; saved as RUN_DIR/config.json (and config.yaml). A train.total_kimg of
    None becomes the paper's length for net.resolution (paper_total_kimg), a train.checkpoint_kimg of None
    default_checkpoint_kimg(total_kimg)."""

    data: DataConfig
    net: NetConfig
    train: TrainConfig
    score: ScoreConfig = field(default_factory=ScoreConfig)
    preset: str = "custom"
    method: str = "wildgan"              # wildgan | search (pGAN without E) | fanogan
    fanogan: FAnoGANConfig = field(default_factory=FAnoGANConfig)
    search: SearchConfig = field(default_factory=SearchConfig)

    def __post_init__(self) -> None:
        # a part left a dict (RunConfig(data={...}, ...)) was taken by the dataclass and failed as an AttributeError
        # far inside train_run ("'dict' object has no attribute 'source'"); named here, where every RunConfig is made
        parts = {"data": DataConfig, "net": NetConfig, "train": TrainConfig, "score": ScoreConfig,
                 "fanogan": FAnoGANConfig, "search": SearchConfig}
        for name, kind in parts.items():
            part = getattr(self, name)
            if not isinstance(part, kind):
                hint = (f" (a dict is made one by {kind.__name__}(**d), or a whole config by run_config_from_dict)"
                        if isinstance(part, dict) else "")
                raise ConfigError(f"RunConfig: {name} must be a wildgan.config.{kind.__name__}, got "
                                  f"{type(part).__name__}{hint}")
        # refused before anything is written (an unknown method used to leave a config.json behind)
        if self.method not in RUN_METHODS:
            raise ConfigError(f"unknown method {as_typed(self.method)}; choose one of {', '.join(RUN_METHODS)}")
        if self.preset not in (*PRESETS, "custom"):
            raise ConfigError(f"unknown preset {as_typed(self.preset)}; choose one of {', '.join(PRESETS)} or custom")
        if self.method == "wildgan" and self.score.batch_size % 4:
            # said when the config is read, naming its file, not as a ValueError of the first score batch
            raise ConfigError(f"score.batch_size must be a multiple of 4 (the encoder's minibatch-stddev groups), got "
                              f"{self.score.batch_size}")
        # (method wildgan with encoder_loss none is not refused here, where every read of a run's config.json comes:
        # an earlier wildgan trained such runs, and they are read with a warning, warn_untrained_encoder; a new
        # training of one is refused where it is configured, refuse_untrained_encoder)
        if self.method == "search" and self.train.g_image_loss > 0:
            # (before the replace below, whose check would name encoder_loss none, a value the caller never gave)
            raise _refused("train.g_image_loss", G_IMAGE_LOSS_METHOD_PROBLEM["search"], self.train.g_image_loss)
        if self.method == "fanogan" and self.train.g_image_loss > 0:
            # f-AnoGAN's loop never reads it: a RunConfig built in Python trained without it and its config.json
            # recorded it as if used (the CLI sets 0 for another method, with a warning where it was typed)
            raise _refused("train.g_image_loss", G_IMAGE_LOSS_METHOD_PROBLEM["fanogan"], self.train.g_image_loss)
        if self.method == "search" and self.train.encoder_loss != "none":
            # the latent search starts from random latents, never from E: a config built in Python with TrainConfig's
            # default 'image' trained an E nobody used (a quarter more work per iteration, and another random
            # stream than the CLI's, Detector's and a study's search runs, which all say 'none')
            object.__setattr__(self, "train", replace(self.train, encoder_loss="none"))
        if self.train.total_kimg is None:
            t = self.train
            object.__setattr__(self, "train", replace(t, total_kimg=paper_total_kimg(self.net.resolution,
                                                                                      t.phase_kimg, t.fade_kimg)))
        if self.train.checkpoint_kimg is None:
            object.__setattr__(self, "train", replace(self.train, checkpoint_kimg=default_checkpoint_kimg(
                self.train.total_kimg)))



def untrained_encoder(cfg: RunConfig) -> bool:
    """Whether cfg is of method wildgan without an encoder (train.encoder_loss none): its scores, which need E, come
    from an untrained one. Refused for a new training since today; an earlier wildgan took it (Detector(encoder_loss=
    'none') for every method, and its loop trained without E)."""
    return cfg.method == "wildgan" and cfg.train.encoder_loss == "none"


def refuse_untrained_encoder(cfg: RunConfig, resumed: Any = None, *, said: str | None = None) -> None:
    """ConfigError where cfg (method wildgan, encoder_loss none: untrained_encoder) is about to configure a training:
    every score of a would come from a random encoder, and nothing said so. Called where a training is configured
    (train_run, a run config file given to `train --config` or replay_run, a study's cells), not where a run is
    read, whose config an earlier wildgan may have written so (warn_untrained_encoder). resumed: the run folder of a
    resume, which is said to be trained again rather than given another setting (its E was never trained, and a
    resume changes no setting of the run).

    said: what the refusal adds after the value, in its caller's terms (untrained_encoder_words: a study names its
    cells' encoder loss, a config file's reader adds the file's own words, '' for none); by default train_run's, a
    Python caller's RunConfig. Such a none is most often read_run_config's of an earlier wildgan's run, whose caller
    never typed it: the bare "got 'none'" read as a typo, and said nothing of how to train the encoder."""
    if not untrained_encoder(cfg):
        return
    if resumed is not None:
        # (in the one wording of untrained_encoder_words, with what a resume adds: it changes no setting of the run)
        raise ConfigError(f"{resumed}" + untrained_encoder_words(
            "it was", "train it again into a new folder with encoder loss",
            so=": a resume cannot continue it as it is (a resume changes no setting of the run)"))
    refused = _refused("train.encoder_loss", untrained_encoder_problem(), cfg.train.encoder_loss)
    if said is None:
        said = untrained_encoder_words("where cfg is an earlier run's (read_run_config), that run was",
                                       "set train.encoder_loss to",
                                       ": dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, "
                                       "encoder_loss='image'))")
    # (its setting's parts kept: run_config_in names the file's setting and takes a flag typed beside it by them)
    raise ConfigError(refused.message, then=said, setting=refused.setting, flag=refused.flag, problem=refused.problem,
                      value=refused.value)


def untrained_encoder_problem(wildgan: str = "method wildgan", others: str = "method fanogan or search") -> str:
    """What is wrong with encoder_loss none under method wildgan, in the one wording of every refusal of it (a
    training's config, refuse_untrained_encoder; a Detector's encoder_loss): its values there, why, and where none
    is taken. `wildgan` and `others` name the methods as the caller's user spells them: a run config's 'method
    wildgan' by default, a Detector's keyword "method='wildgan'" and "method='fanogan' or 'search'"."""
    return (f"must be image (d_I) or latent (d_z) with {wildgan}, whose scores need its encoder (none, no encoder, "
            f"is for {others})")


def untrained_encoder_words(run: str, how: str, after: str = "", *, so: str = "") -> str:
    """What a refusal of a training of method wildgan with train.encoder_loss none (refuse_untrained_encoder) says
    after the value, the one wording of every way it is reached (a run config file, train_run, a study's cells):
    such a none is an earlier wildgan's, the setting of a run it trained without an encoder (read_run_config of the
    run, or its config file), not a caller's typo, and the reader is told so and how a training trains the encoder.
    `run` names that run as the caller knows it ('the file's run was'; 'where cfg is an earlier run's ..., that run
    was' where the config may be one), `how` the caller's way to set the encoder loss ('set train.encoder_loss to',
    'give --encoder-loss'), `after` what follows the two values (where or how to give them), `so` what else follows
    from the untrained encoder, said before the way on (a resume's refusal, warn_untrained_encoder's warning of a run
    read, Detector's refusal of a refit: the same words, so that one of them is not read as another problem)."""
    return (f": {run} trained without an encoder (which an earlier wildgan took), so its scores came from an "
            f"untrained one{so}; to train one, {how} image (d_I, the method's) or latent (d_z, its ablation){after}")


# the runs warn_untrained_encoder has warned of: a command reads a run's config several times (the CLI, then the
# scoring it calls), and the warning is one per run (cli.main empties it: once a command, not once a process)
UNTRAINED_ENCODER_SAID: set[str] = set()


def warn_untrained_encoder(cfg: RunConfig, where: Any) -> None:
    """A WildganWarning, once per run in a process, where the run config of an existing run or saved Detector (read
    from `where`) is of method wildgan without an encoder (untrained_encoder): an earlier wildgan trained it so, and
    it is read (its curves, samples, a report, its scores) rather than refused as if its config.json were a typo,
    which 'fixing' by hand to image would only hide that E was never trained."""
    if not untrained_encoder(cfg) or str(where) in UNTRAINED_ENCODER_SAID:
        return
    UNTRAINED_ENCODER_SAID.add(str(where))
    warn_user(f"{where}" + untrained_encoder_words(
        "it was", "train it again with encoder loss",
        so=": they are not the method's (L_n and the anomaly score a need a trained E)"))

# The layout of a run config as run_config_to_dict writes it (RUN/config.json and config.yaml, and the "config" inside
# checkpoints and saved Detectors). Raise it when a wildgan that reads the current number would misread the new
# layout: a file with a higher number is refused by run_config_from_dict with "upgrade wildgan" instead of being read
# wrongly (or failing on some field deep in a run).
RUN_CONFIG_VERSION = 1


def run_config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    data = to_dict(cfg.data)
    if not cfg.data.contamination or cfg.data.contamination_draw == "choice":
        # written only when it differs from what its absence reads as (run_config_from_dict): a clean run draws
        # nothing (the rule is moot), and a contaminated run without it drew by "choice", the rule of a wildgan from
        # before the field. Such a wildgan refuses keys it does not know, so it still reads these configs (and
        # draws them alike), and refuses only a nested run's, whose contaminants it would draw otherwise
        del data["contamination_draw"]
    train = to_dict(cfg.train)
    if not cfg.train.g_image_loss:
        # likewise written only when on: its absence reads as 0 (the dataclass default), so a run without the
        # ablation writes the config.json it wrote before the field, which an earlier wildgan still reads
        del train["g_image_loss"]
    return {"format_version": RUN_CONFIG_VERSION, "preset": cfg.preset, "method": cfg.method,
            "data": data, "net": to_dict(cfg.net), "train": train,
            "score": to_dict(cfg.score), "fanogan": to_dict(cfg.fanogan), "search": to_dict(cfg.search)}


# The settings each method's test scores depend on besides the networks and the images. Left out, as changing no
# score: f-AnoGAN's batch size, shuffle and generator (it scores each image on its own, BatchNorm in eval mode, with
# its one generator), the latent search's batch size and the score batches of a search run (each latent is searched
# on its own from a start drawn per image: latent_search.search_info leaves them out too).
_SCORING_KEYS = {"wildgan": ("score.lam", "score.batch_size", "score.shuffle_seed", "score.kappa", "score.generator"),
                 "search": ("score.lam", "score.kappa", "score.generator", "search.steps", "search.lr",
                            "search.feature_weight", "search.seed"),
                 "fanogan": ("score.lam", "score.kappa")}


def scoring_settings(cfg: RunConfig) -> dict[str, Any]:
    """{'score.lam': 0.05, ...}: the settings of cfg that its method's test scores depend on besides the networks and
    the images. A study row records them, so that a re-run scoring with other ones evaluates its cell again."""
    d = run_config_to_dict(cfg)
    return {k: d[k.split(".")[0]][k.split(".")[1]] for k in _SCORING_KEYS[cfg.method]}


def scoring_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """'score.lam: 0.2 -> 0.05' for each setting of `new` (scoring_settings) that `old` has with another value; a
    setting `old` lacks is not compared (a record that did not keep it)."""
    return [f"{k}: {old[k]!r} -> {v!r}" for k, v in new.items() if k in old and old[k] != v]


def check_run_config_version(d: dict[str, Any]) -> None:
    """ConfigError unless a run config dict is of a layout this wildgan reads (RUN_CONFIG_VERSION or older). Callers
    prefix the file's name, as for any other error in the config."""
    if "format_version" not in d:
        # written before the field existed, in the layout that became version 1: read as version 1
        return
    v = d["format_version"]
    state = version_state(v, RUN_CONFIG_VERSION)
    if state == "damaged":
        raise ConfigError(f"format_version must be a whole number >= 1, got {shown(v)}: the file is damaged (restore "
                          f"it, or compare it with config.yaml)")
    if state == "newer":
        from . import __version__

        raise ConfigError(f"written by a newer wildgan (run config format_version {v}; wildgan {__version__} reads "
                          f"up to {RUN_CONFIG_VERSION}): upgrade wildgan to use it")


def run_config_from_dict(d: dict[str, Any], check_types: bool = False) -> RunConfig:
    """A RunConfig from run_config_to_dict's layout; check_types as in from_dict (on for hand-edited files). A layout
    newer than this wildgan's, or a damaged format_version, is a ConfigError (check_run_config_version)."""
    # first: a newer layout may have sections this wildgan does not know, and "upgrade" is the message that helps
    check_run_config_version(d)
    known = {"format_version", "preset", "method", "data", "net", "train", "score", "fanogan", "search"}
    unknown = set(d) - known
    if unknown:
        raise ConfigError(f"the run config has {unknown_names_text('section', unknown, known)}")
    for key in ("data", "net", "train"):
        if key not in d:
            raise ConfigError(f"config is missing the '{key}' section")
    c = check_types
    for key in ("preset", "method"):
        if c and key in d and not isinstance(d[key], str):
            raise ConfigError(f"{key} must be a string, got {shown(d[key])}")
    train = d["train"]
    if isinstance(train, dict) and "ema_warmup" not in train:
        # runs recorded before the EMA warm-up existed were trained with the constant beta: read them as such, so
        # that their config (and a --config replay of it) says what was actually done
        train = {**train, "ema_warmup": False}
    data = d["data"]
    if isinstance(data, dict) and "square" in data:
        # 'pad' recorded by a wildgan before --square letterbox was so named: the same rule, read without the warning
        # that a 'pad' given now gets (the record is not the user's typing)
        data = {**data, "square": square_name(data["square"])}
    if isinstance(data, dict) and "contamination_draw" not in data:
        # runs (and study cells) recorded before the nested draw drew their contaminants with Generator.choice: read
        # them as such, so that evaluate, score, --resume and a --config replay rebuild the training set they had. A
        # clean run's config leaves the rule out (run_config_to_dict): nothing was drawn, and it reads as today's
        gamma = data.get("contamination", 0.0)
        clean = isinstance(gamma, (int, float)) and not gamma
        data = {**data, "contamination_draw": "nested" if clean else "choice"}
    return RunConfig(data=_in_section("data", lambda: from_dict(DataConfig, data, c)),
                     net=_in_section("net", lambda: from_dict(NetConfig, d["net"], c)),
                     train=_in_section("train", lambda: from_dict(TrainConfig, train, c)),
                     score=_in_section("score", lambda: from_dict(ScoreConfig, d.get("score", {}), c)),
                     preset=d.get("preset", "custom"), method=d.get("method", "wildgan"),
                     fanogan=_in_section("fanogan", lambda: fanogan_config_from_dict(d.get("fanogan", {}), c)),
                     search=_in_section("search", lambda: from_dict(SearchConfig, d.get("search", {}), c)))


def _in_section(section: str, build: Callable[[], T]) -> T:
    """build(), a run config's section, with a refused setting named by its section and key, as the file has them
    (train.total_kimg): the field alone (total_kimg) named no key of the file, whose keys are in sections. The
    sections' own checks name theirs so already; this covers a setting refused without its section."""
    try:
        return build()
    except ConfigError as e:
        if e.setting is None or "." in e.setting:
            raise                  # (not a setting's value, or named in its section already: score.lam)
        raise bad_setting(e.flag, f"{section}.{e.setting}", e.problem, e.value) from None


def check_run_config_types(d: dict[str, Any]) -> None:
    """Refuse a value of the wrong scalar type in a run config's sections (as from_dict's check_types does), naming
    it by section and key as the file has it (`train.ema_warmup must be true or false, got 'no'`). Unknown keys and
    sections are left to run_config_from_dict."""
    sections = {"data": DataConfig, "net": NetConfig, "train": TrainConfig, "score": ScoreConfig,
                "fanogan": FAnoGANConfig, "search": SearchConfig}
    for key, cls in sections.items():
        sec = d.get(key)
        if not isinstance(sec, dict):
            continue
        names = {f.name: f for f in dataclasses.fields(cls)}
        for k, v in sec.items():
            if k in names and (refused := _type_error(key, names[k], v)):
                raise refused


# what f-AnoGAN runs recorded before the BatchNorm fields existed were trained with (PyTorch's defaults)
FANOGAN_LEGACY_BN = {"bn_eps": 1e-5, "bn_decay": 0.9, "bn_warmup": False}


def fanogan_config_from_dict(d: dict[str, Any], check_types: bool = False) -> FAnoGANConfig:
    """FAnoGANConfig from a dict. A *complete* record (every field the config had before the BatchNorm fields) without
    bn_eps was written by an older wildgan: it reads back with the settings it was trained with (eps 1e-5 matters
    at inference: loading it with 1e-3 would change its scores). A partial, hand-written section gets today's
    defaults."""
    from dataclasses import fields

    before = {f.name for f in fields(FAnoGANConfig)} - set(FANOGAN_LEGACY_BN)
    if isinstance(d, dict) and "bn_eps" not in d and before <= set(d):
        d = {**FANOGAN_LEGACY_BN, **d}
    return from_dict(FAnoGANConfig, d, check_types)


def write_run_config(cfg: RunConfig, run_dir: Any, trained_on: dict[str, Any] | None = None) -> None:
    """RUN_DIR/config.json (read back by score/evaluate/--config) and config.yaml (the same, for people).
    trained_on: what the run's training images were (a subset of its split.json, see config_yaml_header), written as
    a comment at the top of config.yaml; None keeps the comment the file has (a study cell given new score
    settings is still the run that trained on those images)."""
    import json
    from pathlib import Path

    import yaml

    from .fileio import atomic_write_text

    d = run_config_to_dict(cfg)
    yaml_path = Path(run_dir) / "config.yaml"
    if trained_on is not None:
        # with the data settings the images came from: a copy whose data section was edited by hand asks for other
        # images on purpose, as --seed or --data on the command line do, and a replay must not call that changed data
        header = config_yaml_header(Path(run_dir), {**trained_on, DATA_SETTINGS_KEY: d["data"]})
    else:
        header = "".join(f"{line}\n" for line in _header_lines(yaml_path))
    atomic_write_text(Path(run_dir) / "config.json", json.dumps(d, indent=2))
    atomic_write_text(yaml_path, header + yaml.safe_dump(d, sort_keys=False))


# config.yaml's comment header: the run folder the file was written for and the training images that run trained on,
# so that a copy of the file taken out of its folder (no split.json beside it) still tells a replay on other data
# from the run. A comment, not a field: every wildgan (and any YAML reader) reads the file as before, where a new
# field would make an older wildgan refuse it.
_HEADER_RUN = "# wildgan-run: "
HEADER_TRAINED_ON = "# wildgan-trained-on: "
# the key of the header's trained-on record that holds the run's data section (run_config_to_dict's "data")
DATA_SETTINGS_KEY = "data_settings"


def config_yaml_header(run_dir: Path, trained_on: dict[str, Any]) -> str:
    """The comment lines config.yaml starts with: a line for people, the run folder (absolute) and trained_on (the
    split.json fields that say which images the networks trained on, as one line of JSON)."""
    import json

    return ("# A wildgan run's config; `wildgan train --config FILE --out NEW` replays the run. The two lines below\n"
            "# record the run it was written for and its training images: a replay on other images says so.\n"
            # (as JSON strings: a folder name holding a line break would otherwise end the comment)
            f"{_HEADER_RUN}{json.dumps(str(Path(run_dir).absolute()))}\n"
            f"{HEADER_TRAINED_ON}{json.dumps(trained_on, sort_keys=True, default=str)}\n")


def _header_lines(path: Path, text: str | None = None) -> list[str]:
    """The comment lines a config.yaml starts with ([] for a file without them, or none at all). text: the file's,
    where the caller has read it (read_config_file): not read again."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return []
    lines = []
    # (a byte-order mark, which Windows editors put before a file they save as UTF-8, is no part of the first line:
    # with it the header was not seen, and a copy edited so was never checked; YAML itself skips the mark)
    for line in text.removeprefix("\ufeff").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def config_yaml_record(path: Any, text: str | None = None) -> tuple[str | None, dict[str, Any]] | None:
    """(the run folder, what its training images were) from a config.yaml's comment header (config_yaml_header);
    None for a file without one (written by an older wildgan, by hand, or a flat file of options) or a damaged
    one: there is nothing to compare a replay with then. text: the file's, where the caller has read it."""
    import json

    run, trained_on = None, None
    try:
        for line in _header_lines(Path(path), text):
            if line.startswith(_HEADER_RUN):
                run = json.loads(line[len(_HEADER_RUN):])
            elif line.startswith(HEADER_TRAINED_ON):
                trained_on = json.loads(line[len(HEADER_TRAINED_ON):])
    except ValueError:
        return None
    return (run if isinstance(run, str) else None, trained_on) if isinstance(trained_on, dict) else None


def read_run_config(run_dir: Any, raw: dict[str, Any] | None = None,
                    split: Callable[[], Any] | None = None) -> RunConfig:
    """RUN_DIR/config.json as a RunConfig (errors name the file). raw: its contents, where the caller has read them
    (not read again); split: gives split.json's contents, where the caller reads it (`train --resume` reads each
    once a command: data.replay.ReplayFiles), for the data of an older run recorded there."""
    import json
    from pathlib import Path

    p = Path(run_dir) / "config.json"
    if Path(run_dir).is_file():
        # e.g. RUN/network-final.json given for RUN: the folder that holds it is what the commands take
        parent = Path(run_dir).parent
        hint = (f"; its run directory is {parent}" if (parent / "config.json").is_file() else
                f"; its run directory is {parent.parent}" if (parent.parent / "config.json").is_file() else "")
        if Path(run_dir).suffix.lower() == ".onnx":
            # (`wildgan export`'s output: its metadata 'wildgan_run' names the run it came from)
            hint += ("; an exported ONNX model is scored with onnxruntime (docs/python_api.md, 'Scoring without "
                     "wildgan or torch'), or give the run folder it was exported from")
        raise ConfigError(f"{run_dir}: is a file, not a run directory (a folder written by `wildgan train`){hint}")
    if not Path(run_dir).is_dir():
        raise ConfigError(f"{run_dir}: no such run directory")
    if not p.is_file():
        runs = Path(run_dir) / "runs"
        cells = sorted(d.name for d in runs.iterdir() if (d / "config.json").is_file()) if runs.is_dir() else []
        if cells:     # a study's folder: its cells are the runs
            raise ConfigError(f"{run_dir}: a study folder, not a run directory: each of its cells is a run, in "
                              f"{runs}/ (e.g. {runs / cells[0]}; {len(cells)} there)")
        parent = Path(run_dir).resolve().parent
        if (parent / "config.json").is_file():
            # (e.g. `score RUN/checkpoints`, meaning one of them: "no config.json" left the user to guess the way)
            way = option_words("score RUN --checkpoint FILE", "Detector.from_run(RUN, checkpoint=FILE)")
            hint = (f" ({way} scores with one of its checkpoints)"
                    if Path(run_dir).resolve().name == "checkpoints" else "")
            raise ConfigError(f"{run_dir}: a folder inside the run {parent}, not a run directory: give the run's "
                              f"folder{hint}")
        raise ConfigError(f"{run_dir}: not a wildgan run directory (no config.json)")
    try:
        # (a byte-order mark, put there by an editor that saves UTF-8 so, is no part of it: as load_config_file)
        raw = json_without_duplicates(p.read_text().removeprefix("\ufeff"), p) if raw is None else raw
    except json.JSONDecodeError as e:
        raise ConfigError(f"{p}: invalid JSON: {e}", file=str(p)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot be read: {e}", file=str(p)) from None
    if not isinstance(raw, dict):
        # (what the file holds in its own words: "a int" and "a NoneType" were Python's)
        got = "a list" if isinstance(raw, list) else shown(raw, from_file=True)
        raise ConfigError(f"{p}: not a run config (a JSON object with data, net, train, ... sections expected, got "
                          f"{got})", file=str(p))
    try:
        with file_values():
            cfg = run_config_from_dict(raw)
            # then the types the checks above leave alone: a hand-edited `"ema_warmup": "no"` was read as true, and
            # `"data": 5` failed later as a bare TypeError (annotations have only widened, to `X | None`: older runs
            # read)
            check_run_config_types(raw)
    except ConfigError as e:
        # e.g. a hand-edited field: the message says what is wrong, the prefix says in which file (its setting's
        # parts kept: a caller names the refused setting by them, not by the words)
        raise in_file(p, e) from None
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        # a field of the wrong type that no check names (a list where a number belongs, ...)
        raise ConfigError(f"{p}: a malformed field ({type(e).__name__}: {e}); restore the file, or compare it with "
                          f"config.yaml", file=str(p)) from None
    data = cfg.data.data
    if data is None:
        # a run on the embedded sample recorded before SAMPLE_TOKEN (data: null, which reads $WILDGAN_DATA first):
        # split.json's source says it was the sample
        source = _recorded_source(run_dir, split)
        if is_sample_path(source):
            cfg = replace(cfg, data=replace(cfg.data, data=SAMPLE_TOKEN))
    elif data != SAMPLE_TOKEN and is_sample_path(data):
        # the sample recorded by its path (runs of versions before the sample was named by its path too, a
        # Detector.fit on the sample's file): by name, so that the run reads this installation's sample wherever
        # the one it was trained with lies, or whether it is there at all
        cfg = replace(cfg, data=replace(cfg.data, data=SAMPLE_TOKEN))
    elif data != SAMPLE_TOKEN and not Path(data).expanduser().is_absolute():
        # a run recorded before data paths were made absolute (train_run records them so): split.json knows where
        # the data was (its absolute `source`). Preferred also where the relative path names a file from here:
        # another file of the same name in the current folder is not the run's data (from_run scored it, without a
        # word), and that very file read by its relative name gave the run another config (and training-score cache
        # key) in its own folder than anywhere else, so score --threshold scored the training images again at each
        # change of folder. A source that is gone (the data moved) leaves the recorded path, read from here as before.
        source = _recorded_source(run_dir, split)
        if is_sample_path(source):
            # (a relative path to the sample, e.g. from inside a checkout: by name, as any sample run, not by the
            # source's path inside the installation that trained it, whose sample may not be this one's)
            cfg = replace(cfg, data=replace(cfg.data, data=SAMPLE_TOKEN))
        elif isinstance(source, str) and source and Path(source).is_absolute() and Path(source).exists():
            cfg = replace(cfg, data=replace(cfg.data, data=source))
    # read, with a word: a run an earlier wildgan trained without its encoder (a new training of one is refused)
    warn_untrained_encoder(cfg, Path(run_dir))
    return cfg


def _recorded_source(run_dir: Any, split: Callable[[], Any] | None = None) -> Any:
    """split.json's `source` (where the run's data was read from), or None where split.json is missing or unreadable.
    split: as read_run_config's."""
    import json
    from pathlib import Path

    try:
        return (json.loads((Path(run_dir) / "split.json").read_text()) if split is None else split()).get("source")
    except (OSError, ValueError, AttributeError):
        return None


def _twice(path: Any, key: Any, first: Any, second: Any, where: str = "") -> ConfigError:
    return ConfigError(f"{path}: {as_typed(key)} is given twice in one mapping{where}, with different values "
                       f"({as_typed(first)} and {as_typed(second)}); the one read last would win without a word: keep "
                       f"one", file=str(path))


def json_without_duplicates(text: str, path: Any) -> Any:
    """json.loads, refusing an object that gives one key twice with different values (json keeps the last one in
    silence, so a hand edit appended below the old line, or a merge of two copies, won or lost unseen)."""
    import json

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out and out[k] != v:
                raise _twice(path, k, out[k], v)
            out[k] = v
        return out

    return json.loads(text, object_pairs_hook=pairs)


def _yaml_loader(path: Any) -> type:
    """A yaml.SafeLoader that refuses a mapping giving one key twice with different values (PyYAML keeps the last
    in silence), naming both lines. A merge (<<) is left alone: overriding a merged key is what it is for."""
    import yaml

    class Loader(yaml.SafeLoader):
        checked: set[int] = set()

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            self._check(node)
            return super().construct_mapping(node, deep=deep)

        def _check(self, node: Any) -> None:
            if isinstance(node, yaml.MappingNode) and id(node) not in self.checked:
                # (once per node: an anchored mapping is constructed again where it is referenced, flattened by
                # then, its merged keys among its own)
                self.checked.add(id(node))
                seen: dict[Any, tuple[Any, Any]] = {}
                for key_node, value_node in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        # a mapping written inline after << (`<<: {x: 1, x: 2}`) is merged by PyYAML without being
                        # constructed as a mapping: checked here, or its last x won unseen
                        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                        for source in sources:
                            self._check(source)
                        own = {str(self.construct_object(k, deep=True)) for k, _ in node.value
                               if k.tag != "tag:yaml.org,2002:merge"}
                        self._check_sources(sources, own)
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        hash(key)
                    except TypeError:
                        continue          # (an unhashable key: SafeLoader's own error says it)
                    value = self.construct_object(value_node, deep=True)
                    if key in seen and seen[key][0] != value:
                        before, line = seen[key]
                        raise _twice(path, key, before, value,
                                     f" (lines {line + 1} and {key_node.start_mark.line + 1})")
                    seen[key] = (value, key_node.start_mark.line)

        def _check_sources(self, sources: list[Any], own: set[str]) -> None:
            # two sources of one merge (<<: [*a, *b]) giving a key different values, which the mapping does not give
            # itself: the YAML spec keeps the first, but PyYAML dedupes merged keys by the identity of their text's
            # string object, so it kept the first for a one-character key and the last for `seed` (`<<: [{seed: 1},
            # {seed: 2}]` read seed 2), and dropped '4': 32 after 4: 16 (one resolution, two keys) without a word.
            # Keys are compared by their text, as PyYAML merges them.
            seen: dict[str, tuple[Any, Any, int]] = {}
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    continue          # (SafeLoader's own error says it)
                merged = self.construct_object(source, deep=True)
                for key, value in merged.items() if isinstance(merged, dict) else ():
                    text = str(key)
                    if text in own:
                        continue      # the mapping's own key overrides every source: nothing is left to chance
                    if text in seen and (seen[text][0], seen[text][1]) != (key, value):
                        # (as the file spells them, as _twice says a key given twice; keys of two types, '4' and 4,
                        # keep Python's quotes, which are the difference)
                        first = seen[text][0]
                        keys = [as_typed(k) if type(first) is type(key) else repr(k) for k in (first, key)]
                        raise ConfigError(f"{path}: {as_typed(text)} is given by two sources of one merge (<<) "
                                          f"(lines {seen[text][2] + 1} and {source.start_mark.line + 1}), with "
                                          f"different values ({keys[0]}: {as_typed(seen[text][1])} and {keys[1]}: "
                                          f"{as_typed(value)}); "
                                          f"which one a YAML reader keeps differs (PyYAML: by the key): keep one, or "
                                          f"give it below the <<", file=str(path))
                    seen.setdefault(text, (key, value, source.start_mark.line))

    Loader.checked = set()
    return Loader


@dataclass(frozen=True)
class ConfigFile:
    """A config file read once (read_config_file): its settings (`contents`, as load_config_file gives them) and the
    record of its comment header (`record`, as config_yaml_record gives it: None without one), both of the one text
    read. Read apart, a file saved between the two reads gave a replay the settings of one version and the record of
    the run's images of another."""
    path: Path
    contents: dict[str, Any]
    record: tuple[str | None, dict[str, Any]] | None


def load_config_file(path: Any) -> dict[str, Any]:
    """A YAML (.yaml/.yml), TOML (.toml) or JSON (anything else) file of settings as a mapping; errors name the file.
    `wildgan train --config FILE` reads it: a run's own config.yaml, or a flat file of option names."""
    return read_config_file(path).contents


def read_config_file(path: Any) -> ConfigFile:
    """A config file's settings (load_config_file) and its comment header's record (config_yaml_record), of one read
    of its text; errors name the file."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        # (named by its option in a command, as a missing --data is: the path alone did not say which was wrong)
        raise ConfigError(f"{path}: config file not found{option_words(' (--config)', '')}", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:   # (an image or other binary file given by mistake)
        raise ConfigError(f"{path}: not a text file ({e.reason} at byte {e.start}); "
                          f"{option_words('--config takes', 'a config file is')} a YAML, TOML or JSON file of "
                          f"settings, e.g. a run's config.yaml", file=str(path)) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config file ({e.strerror or e})", file=str(path)) from None
    record = config_yaml_record(path, text)
    # a byte-order mark (what Windows editors put before a file they save as UTF-8) is no part of the settings: YAML
    # skips it, while json and tomllib refused a config.json or .toml saved so ("Unexpected UTF-8 BOM")
    text = text.removeprefix("\ufeff")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            d = yaml.load(text, Loader=_yaml_loader(path))    # noqa: S506 - a SafeLoader, checking duplicate keys
        elif path.suffix == ".toml":
            try:
                import tomllib  # type: ignore[import-not-found]
            except ImportError:  # Python 3.10: the same parser, as a package (a dependency there)
                import tomli as tomllib  # type: ignore[import-not-found, no-redef]

            d = tomllib.loads(text)
        else:
            d = json_without_duplicates(text, path)
    except ConfigError:
        raise                 # (a duplicate key, said already with the file)
    except Exception as e:  # noqa: BLE001 - any parser error becomes one clear message
        raise ConfigError(f"{path}: cannot parse config file: {e}", file=str(path)) from None
    if not isinstance(d, dict):
        raise ConfigError(f"{path}: config file must contain a mapping", file=str(path))
    return ConfigFile(path, d, record)


def run_config_in(d: dict[str, Any], path: Any) -> RunConfig | None:
    """The RunConfig in d, a config file's contents (load_config_file), validated with errors naming `path`; None
    when d is not a run's own config.json/yaml (sections data/net/train/...) but a flat file of option names. Such
    a file configures a training (`train --config`, --resume's config.yaml, replay_run): method wildgan without an
    encoder is refused (refuse_untrained_encoder), as read_run_config, which reads a run, does not.

    Inside typed_settings (`wildgan train` with the file, or --resume), a setting the file refuses whose flag is typed
    beside it takes the flag's value instead, as the flag would once the file is read: the refusal names that flag
    as the way to change the setting, and typed, it must."""
    if not ("train" in d and "data" in d and isinstance(d["train"], dict)):
        return None
    replaced: set[str] = set()
    while True:
        try:
            with file_values():
                cfg = run_config_from_dict(d, check_types=True)
                # (such a file configures a training: `train --config`, --resume's config.yaml, replay_run)
                refuse_untrained_encoder(cfg, said="")        # (the file's words are added below)
                return cfg
        except ConfigError as e:
            refused = e
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{path}: invalid value: {e}", file=str(path)) from None
        taken = _take_typed_setting(refused, replaced)
        if taken is not None:
            # the flag given beside the file changes this setting: the file's value is not used, and is not refused
            section, name, value = taken
            d = {**d, section: {**(d.get(section) or {}), name: value}}
            continue
        # a command's user is told of the option too (`wildgan train --config`: a flag beside it changes it)
        setting = (f" (the {refused.flag} setting)" if refused.setting and refused.flag and in_cli()
                   and refused.setting not in replaced else "")
        # (its setting's parts kept, as read_run_config keeps them: the words name the file already, which
        # cli.config_args._said_with_config leaves as they are, and a caller that names the setting reads them)
        raise in_file(path, refused, setting + _untrained_encoder_file_words(refused, replaced)) from None


def in_file(path: Any, e: ConfigError, after: str = "") -> ConfigError:
    """`e`, a refusal of a config file's contents, as "PATH: E" (and `after`, said last), with its parts kept (its
    advice to start again, its setting's: setting, flag, problem, value, settings), as ConfigError.within keeps
    them: a bare ConfigError(f"{path}: {e}") dropped them, so a caller that names the refused setting as its
    user gave it, or takes a typed flag's value for it, found none. Its `file` is `path`: the refusal is the file's,
    and names it."""
    return e.within(str(path), after, file=str(path))


def _untrained_encoder_file_words(refused: ConfigError, replaced: set[str]) -> str:
    """What run_config_in adds where `refused` is the file's own encoder_loss none with method wildgan
    (refuse_untrained_encoder; none is taken everywhere else): such a file is an earlier wildgan's run's, and its
    reader is told that run had no trained encoder and how to train one from the file, not only that the value is
    wrong (which read as a typo in a file wildgan wrote itself). '' for any other refusal."""
    if refused.setting != "train.encoder_loss" or refused.value != "none" or "train.encoder_loss" in replaced:
        return ""               # (a none typed beside the file is the command line's, refused in its own words)
    if in_cli():
        return untrained_encoder_words("the file's run was", "give --encoder-loss", " beside the file")
    return untrained_encoder_words("the file's run was", "set train.encoder_loss to", " in a copy of the file")


def _take_typed_setting(refused: ConfigError, replaced: set[str]) -> tuple[str, str, Any] | None:
    """(section, key, value) of a setting `refused` names (one, or one of settings that cannot go together) whose flag
    the command line typed (typed_settings): the value it gives, which a run's config file read inside takes over its
    own; None where no such flag was typed. Each setting once (`replaced` collects them): the typed value refused
    again, beside the file's other settings, stays refused. A refusal of the typed value itself is raised, naming the
    flag (the command line's error, not the file's)."""
    value_of = _TYPED_SETTINGS.get()
    if value_of is None:
        return None
    named = [(refused.flag, refused.setting)] if refused.setting else [(f, s) for f, s, *_ in refused.settings]
    for flag, setting in named:
        if not flag or not setting or "." not in setting or setting in replaced:
            continue
        try:
            value = value_of(flag, setting)
        except LookupError:
            continue                  # (not typed: the refusal stands, and says which flag would change it)
        replaced.add(setting)
        section, _, name = setting.partition(".")
        return section, name, value
    return None


def run_config_file(path: Any) -> RunConfig | None:
    """The RunConfig stored in a run's config file (validated; errors name the file); None for a flat file."""
    return run_config_in(load_config_file(path), path)


def check_api_call(call: str, cfg: Any, cfg_name: str, folder: Any, folder_name: str) -> Path:
    """A library caller's (config, folder) for train_run / run_study: a config that is not a RunConfig (None, a dict
    read from JSON) failed as an AttributeError deep inside, and a bytes folder as pathlib's bare TypeError; both are
    a ConfigError naming the argument. Returns the folder as a Path (a str is taken, as the CLI's paths are)."""
    if not isinstance(cfg, RunConfig):
        hint = (": a dict read from a config file is made one by run_config_from_dict(d)"
                if isinstance(cfg, dict) else "")
        raise ConfigError(f"{call}: {cfg_name} must be a wildgan.config.RunConfig, got {type(cfg).__name__}{hint}")
    if isinstance(folder, str) or (isinstance(folder, os.PathLike) and isinstance(os.fspath(folder), str)):
        return Path(folder)
    raise ConfigError(f"{call}: {folder_name} must be a path (str or pathlib.Path), got {type(folder).__name__} "
                      f"{folder!r:.80}")
