"""`wildgan info`: parameter counts and FLOPs of a preset's networks, or of a run's (`wildgan info RUN`), with the
files that killed or damaged checkpoint writes, killed evaluations' writes and other killed atomic writes left in the
run (leftover_files)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from ..errors import ConfigError, shell_word
from .common import write_stdout
from .config_args import net_config_from_args

# the options that describe a preset's networks; a run's are its own (RUN/config.json)
PRESET_OPTIONS = ("preset", "resolution", "channels", "width", "latent_size")


def cmd_info(a: argparse.Namespace) -> int:
    from ..nets.info import network_info

    if getattr(a, "run", None) is not None:
        return _run_info(a)
    preset = a.preset or "paper"
    resolution = a.resolution if a.resolution is not None else 32
    channels = a.channels if a.channels is not None else 3
    net = net_config_from_args(a, preset, resolution, channels)
    info = network_info(net)
    if a.json:
        write_stdout(json.dumps(info, indent=2) + "\n")
        return 0
    width = f" (width {a.width})" if a.width is not None else ""
    lines = [f"preset {preset}{width}, {resolution}x{resolution}x{channels}, N_z = {info['latent_size']}",
             *_table(info)]
    write_stdout("\n".join(lines) + "\n")
    return 0


def _table(info: dict[str, Any], nets: tuple[str, ...] = ("G", "D", "E"), g_image_loss: float = 0.0) -> list[str]:
    lines = [f"{'net':<4}{'parameters':>14}{'fwd GFLOP/img':>16}"]
    lines += [f"{k:<4}{info['params'][k]:>14,}{info['forward_gflop'][k]:>16.3f}" for k in nets]
    if nets == ("G", "D", "E"):
        # g, d, e named here: "spec 8.2" sent a user to a document the repository does not hold (docs/method.md)
        formula, extra = "7g + 14d + 3e", ""
        if g_image_loss:
            # (d_I in G's loss: one E and one more G forward in each G step, each with its backward pass)
            formula, extra = "10g + 14d + 6e", ", --g-image-loss adding 3g + 3e"
        lines.append(f"training GFLOP per real image at full resolution ({formula}, with g, d, e the forward "
                     f"GFLOP of G, D, E above{extra}): {info['train_gflop_per_image']:.2f}")
    return lines


def _run_info(a: argparse.Namespace) -> int:
    """`wildgan info RUN`: the run's own networks, read from RUN/config.json (read_run_config's errors name the
    folder and what it is instead: a file, a study's folder, nothing), and where the rest of the run is said."""
    from ..config import read_run_config
    from ..nets.info import network_info

    given = [f"--{k.replace('_', '-')}" for k in PRESET_OPTIONS if getattr(a, k, None) is not None]
    if given:
        raise ConfigError(f"{a.run}: a run's networks are its own (its config.json): {', '.join(given)} "
                          f"describe{'s' if len(given) == 1 else ''} a preset's; give either RUN or the preset options")
    cfg = read_run_config(a.run)
    run = shell_word(a.run)
    rest = (f"its data, training and results: `wildgan report {run}` (writes {run}/report/report.md); its "
            f"settings: {run}/config.json")
    net = cfg.net
    shape = f"{net.resolution}x{net.resolution}x{net.channels}"
    left = leftover_files(Path(a.run))
    stale = stale_evaluation_files(Path(a.run))
    trained = training_state(Path(a.run), cfg)
    said = _training_line(trained, run, _continue_words(Path(a.run), run, trained.get("world_size")),
                          _budget_words(Path(a.run), run, cfg, trained))
    if (trained["final"] and not trained["training_now"] and trained["resumed_to"] is None and cfg.method != "search"
            and cfg.train.train_scores and not (Path(a.run) / "train_scores.csv").is_file()):
        # a training killed while it scored its training images (after its final networks) read as plainly done
        said += ("; its training images are not scored (no train_scores.csv: stopped while it scored them, or the "
                 "file removed): the first `wildgan score --threshold` of it scores them, reading them again")
    if cfg.method == "fanogan":
        # (network_info counts the progressive G, D and E; f-AnoGAN's DCGAN-style networks are others). Its networks
        # are set by its own section (--fanogan-dim, its N_z and batch), not by the preset that config.json records
        # beside them: "(preset fast)" here read as though the fast preset's networks were trained
        fan = cfg.fanogan
        nets_of = {"dim": fan.dim, "latent_size": fan.latent_size, "batch_size": fan.batch_size}
        if a.json:
            write_stdout(json.dumps({"run": str(a.run), "method": cfg.method, "preset": cfg.preset,
                                     "fanogan": nets_of, "training": trained, "leftover_files": left,
                                     "stale_evaluation_files": stale}, indent=2) + "\n")
            return 0
        write_stdout("\n".join([f"run {a.run}: f-AnoGAN, {shape}, DIM {fan.dim} (--fanogan-dim), N_z = "
                                f"{fan.latent_size}, batch {fan.batch_size}; the preset does not apply to f-AnoGAN "
                                f"(its networks are set by --fanogan-dim), and `wildgan info` counts the progressive "
                                f"networks only", said, rest, *_leftover_lines(left, run, Path(a.run)),
                                *_stale_lines(stale)]) + "\n")
        return 0
    info = network_info(net, g_image_loss=bool(cfg.train.g_image_loss))
    # (a search run trains no encoder: its row would count networks it does not have; the JSON leaves it out too, and
    # the training GFLOP, whose formula counts E, as the table does)
    nets = ("G", "D") if cfg.method == "search" else ("G", "D", "E")
    if nets != ("G", "D", "E"):
        info = {k: ({n: v[n] for n in nets} if k in ("params", "forward_gflop") else v) for k, v in info.items()
                if k != "train_gflop_per_image"}
    if a.json:
        write_stdout(json.dumps({"run": str(a.run), "method": cfg.method, "preset": cfg.preset, **info,
                                 "training": trained, "leftover_files": left, "stale_evaluation_files": stale},
                                indent=2) + "\n")
        return 0
    lines = [f"run {a.run}: {cfg.method} (preset {cfg.preset}), {shape}, N_z = {info['latent_size']}",
             *_table(info, nets, cfg.train.g_image_loss), said, rest, *_leftover_lines(left, run, Path(a.run)),
             *_stale_lines(stale)]
    write_stdout("\n".join(lines) + "\n")
    return 0


def training_state(run_dir: Path, cfg: Any) -> dict[str, Any]:
    """How far the run trained, from its networks' JSON (read as JSON: nothing of a model file is executed):
    `final` (whether its final networks are there), `kimg`, `status` (done, budget; the final networks' record) and
    `total_kimg` (the schedule's; None for f-AnoGAN, whose length is in epochs), `training_now` (its lock held). A
    run stopped by Ctrl-C had said only parameter counts here, nothing of being unfinished or how to continue it.
    f-AnoGAN's networks record iterations, no kimg or status: `iterations` {"critic": [done, planned], "encoder":
    [done, planned]} instead (kimg None), and its status as train says it (budget where stopped_early).
    `resumed_to`: the newest checkpoint ({"file", "kimg"[, "iterations"]}) where it lies past the final networks (a
    resume of a finished run, stopped or still training, which leaves the earlier final networks in place), else
    None: such a run was said to be "trained ... (done)" with no word of the training after it.
    `ended_abruptly`: log.txt's last session has no line of how it ended and no process holds the run's lock (a
    kill -9, the out-of-memory killer, a run folder that became unwritable: runlog.last_session_unclosed); None
    (not known) for a finished run whose log.txt has no end line of any session, as an older wildgan left a study
    cell's (runlog.last_session_ended_abruptly): every such cell was said to have ended abruptly.
    `world_size`: the processes that trained the session which wrote the newest of them (the checkpoint resumed to,
    else the final networks or the newest checkpoint), as its JSON records it (training.distributed.processes_record);
    None where not recorded (an older wildgan's run; f-AnoGAN's, which trains in one process)."""
    from ..checkpoint import list_checkpoints
    from ..fileio import host_only_locks
    from ..runlog import last_session_ended_abruptly

    now = _lock_held(run_dir)
    fanogan = cfg.method == "fanogan"
    total = None if fanogan else cfg.train.total_kimg
    finals = [run_dir / n for n in ("network-final.json", "fanogan-final.json") if (run_dir / n).is_file()]
    newest = [p for p in list_checkpoints(run_dir / "checkpoints") if p.suffix == ".json"][-1:]
    fin = _position(finals[0], fanogan) if finals else None
    ck = _position(newest[0], fanogan) if newest else None
    at = fin or ck or {}
    path = finals[0] if finals else newest[0] if newest else None
    past = fin is not None and ck is not None and None not in (fin["step"], ck["step"]) and ck["step"] > fin["step"]
    out = {"final": bool(finals), "file": None if path is None else str(path), "kimg": at.get("kimg"),
           "status": fin["status"] if fin else None, "total_kimg": total, "training_now": now,
           "resumed_to": {"file": str(newest[0]), "kimg": ck["kimg"],
                          **({"iterations": ck["iterations"]} if fanogan else {})} if past and ck else None,
           "world_size": (ck if past and ck else at).get("world_size")}
    if fanogan:
        out["iterations"] = at.get("iterations")
    # (a killed process's lock is released by the kernel: a held lock is a session at work, never one that ended.
    # On a file system whose folder locks hold on this machine only, a free lock may be a training on another
    # machine: not called ended there, as before)
    abrupt = False if now else last_session_ended_abruptly(run_dir / "log.txt", finished=bool(finals))
    out["ended_abruptly"] = False if abrupt is not False and host_only_locks(run_dir) else abrupt
    return out


def _lock_held(run_dir: Path) -> bool:
    """Whether a process holds run_dir's lock now (trains it, or scores its training images): a glance that opens
    the lock file read-only and makes none (training.run.check_lock_free)."""
    from ..training.run import check_lock_free

    try:
        check_lock_free(run_dir)
    except ConfigError:
        return True
    return False


def _torchrun(world_size: int, command: str) -> str:
    """`command` (a `wildgan train ...` line) as docs/cli.md runs it under torchrun in world_size processes."""
    return f"torchrun --nproc_per_node={world_size} -m {command} --distributed"


def _position(path: Path, fanogan: bool) -> dict[str, Any]:
    """{"kimg", "iterations" (f-AnoGAN's), "status", "step" (what orders two of one run)} of the networks' or a
    checkpoint's JSON at path; None each where it cannot be read (a damaged record: the commands that load it say what
    is wrong; here only that it is there)."""
    try:
        meta = json.loads(path.read_text())
        if fanogan:
            # (its JSON has no kimg, nimg or status: it said "? kimg (status not recorded)" of a finished run)
            iters = {k: [int(meta[f"{s}_iters_done"]), int(meta[f"{s}_iters_planned"])]
                     for k, s in (("critic", "gan"), ("encoder", "enc"))}
            return {"kimg": None, "iterations": iters, "step": iters["critic"][0] + iters["encoder"][0],
                    "status": "budget" if meta.get("stopped_early") else "done",   # as train's _train_fanogan says
                    "world_size": None}
        kimg = float(meta["kimg"]) if "kimg" in meta else float(meta["nimg"]) / 1000
        return {"kimg": kimg, "iterations": None, "step": kimg, "status": meta.get("status"),
                "world_size": _world_size(meta)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {"kimg": None, "iterations": None, "step": None, "status": None, "world_size": None}


def _world_size(meta: dict[str, Any]) -> int | None:
    """The recorded number of processes that trained (world_size), None where absent (an older wildgan's file) or
    not a whole number >= 1 (a hand-edited one: the advice falls back on the plain --resume, which works in one
    process whatever the count was)."""
    n = meta.get("world_size")
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 1 else None


def _fit_again(run_dir: Path) -> str | None:
    """The Detector.fit call that continues a run fit trained on images given in memory (config_args'
    in_memory_fit_resume, without its trailing comma), None for any other run."""
    from ..errors import WildganError
    from ..scoring.run import read_split_info
    from .config_args import in_memory_fit_resume

    try:
        fit_again = in_memory_fit_resume(run_dir, read_split_info(run_dir))
    except WildganError:
        fit_again = None            # (no split.json, or a damaged one: train's resume says what it needs)
    return fit_again.rstrip(",") if fit_again else None


def _continue_words(run_dir: Path, run: str, world_size: int | None = None) -> str:
    """How an unfinished run continues: `wildgan train --resume`, but for a Detector.fit on images given in memory,
    which that command refuses (it has no images to read): the fit call that does. A run whose newest record says
    several processes trained it (world_size > 1) gets the torchrun command of docs/cli.md with that count first:
    the plain --resume, advised alone before, continues it in one process, not as the user trained it."""
    fit_again = _fit_again(run_dir)
    if fit_again:
        return fit_again
    plain = f"`wildgan train --out {run} --resume`"
    if world_size is None or world_size <= 1:
        return plain
    return (f"`{_torchrun(world_size, f'wildgan train --out {run} --resume')}` (as it trained, in {world_size} "
            f"processes; a plain {plain} continues it in one process too)")


def _budget_words(run_dir: Path, run: str, cfg: Any, t: dict[str, Any]) -> str | None:
    """How a run whose final networks its --minutes budget ended (status budget) trains on, else None. The budget
    counts the training of all the run's sessions (its clock is saved in each checkpoint), so a plain --resume of
    such a run trains nothing more ('wall-clock budget ... already used'): it needs --minutes above the minutes
    trained so far, and trains for the difference. `info` said only 'budget', with no word of how to continue."""
    if not t["final"] or t["status"] != "budget" or t["resumed_to"] is not None or t["training_now"]:
        return None
    minutes = cfg.fanogan.minutes if cfg.method == "fanogan" else cfg.train.minutes
    try:
        spent: float | None = float(json.loads(Path(t["file"]).read_text())["elapsed_s"]) / 60
    except (OSError, ValueError, KeyError, TypeError):
        spent = None                # (a damaged record: the commands that load it say what is wrong)
    # the budget is checked between rounds, so a run overshoots it: MINUTES must exceed what it trained, which one
    # just above the budget need not (rounded up: a figure at or under it would train nothing)
    spent = None if spent is None else math.ceil(spent * 1000) / 1000
    floor = max([x for x in (minutes, spent) if x is not None], default=None)
    above = "" if floor is None else f", MINUTES above {floor:g}"
    said = ("the budget counts all the run's sessions" if spent is None else
            f"{spent:g} min trained over all its sessions, which the budget counts")
    own = "" if minutes is None else f"{minutes:g}"
    if _fit_again(run_dir):
        # (a Detector.fit on images given in memory: the fit call, as _continue_words says it, with its minutes)
        return (f"its minutes{'=' if own else ''}{own} budget ran out ({said}: a resume with the same minutes trains "
                f"nothing more); continue it with Detector(..., run_dir={str(run_dir)!r}, minutes=MINUTES).fit(X, "
                f"resume=True){above}, with the same other parameters and X")
    resume = f"wildgan train --out {run} --resume --minutes MINUTES"
    world = t.get("world_size")
    if world is not None and world > 1:
        # (trained under torchrun: the same command under it, as _continue_words advises an unfinished run)
        resume = _torchrun(world, resume)
    return (f"its --minutes{' ' if own else ''}{own} budget ran out ({said}: a plain --resume trains nothing more); "
            f"continue it with `{resume}`{above}, which trains for the difference"
            + (f" (as it trained, in {world} processes; without torchrun and --distributed it continues in one "
               f"process too)" if world is not None and world > 1 else ""))


def _training_line(t: dict[str, Any], run: str, again: str, budget: str | None = None) -> str:
    """training_state in words, with `again`, the way that continues an unfinished run, and `budget`
    (_budget_words), how one its --minutes budget stopped trains on."""
    where = _where(t["kimg"], t.get("iterations"), t["total_kimg"])
    later = t["resumed_to"]
    if t["final"]:
        # (the schedule beside, not "13.024 of 13": a run ends on a whole round of minibatches, past its total)
        plan = f", schedule {t['total_kimg']:g} kimg" if t["total_kimg"] is not None else ""
        done = _where(t["kimg"], t.get("iterations"), None) or "? kimg"
        line = f"trained: {done} ({t['status'] or 'status not recorded'}{plan}); networks in {t['file']}"
        if later is None:
            # (held past the final networks too, while the training images are scored: not said to be training)
            return line + ("; its lock is held now: a training process is at work in it" if t["training_now"] else
                           f"; {budget}" if budget else "")
        further = _where(later["kimg"], later.get("iterations"), t["total_kimg"]) or "? kimg"
        if t["training_now"]:
            return f"{line}; training again now (its lock is held), at {further} ({later['file']})"
        if t.get("ended_abruptly"):
            return (f"{line}; a resume trained on to the checkpoint at {further} ({later['file']}) and ended "
                    f"abruptly before its final networks {ABRUPT}; continue it with {again}")
        return (f"{line}; a resume trained on to the checkpoint at {further} ({later['file']}) and was stopped or "
                f"killed before its final networks; continue it with {again}")
    if t["training_now"]:
        return f"training now (its lock is held): {f'at {where}, ' if where else ''}no final networks yet"
    if t["file"] is None:
        if t.get("ended_abruptly"):
            # (a session began and was killed before its first checkpoint: not a run never trained)
            return (f"not trained: its last session ended abruptly before its first checkpoint {ABRUPT}; start it "
                    f"again with {again}")
        return "not trained: no checkpoint yet"
    if t.get("ended_abruptly"):
        return (f"not finished: no final networks, the newest checkpoint at {where or '? kimg'} ({t['file']}); its "
                f"last session ended abruptly {ABRUPT}; continue it with {again}")
    return (f"not finished: no final networks, the newest checkpoint at {where or '? kimg'} ({t['file']}), "
            f"stopped or killed; continue it with {again}")


# why info says a session ended abruptly (training_state's ended_abruptly): no line of its end, no lock held
ABRUPT = ("(log.txt has no `stopped:` or `trained` line of it and no process holds the run's lock: "
          "killed by a signal it could not catch, kill -9 or the out-of-memory killer, or its folder became "
          "unwritable)")


def _where(kimg: float | None, iters: dict[str, list[int]] | None, total: float | None) -> str:
    """A training position in words: f-AnoGAN's two stages in the iterations it counts (its length is no kimg),
    else kimg, of the schedule's total where given; '' where unknown."""
    if iters:
        (cd, cp), (ed, ep) = iters["critic"], iters["encoder"]
        return f"{cd} of {cp} critic and {ed} of {ep} encoder iterations"
    if kimg is None:
        return ""
    return f"{kimg:g}{f' of {total:g}' if total is not None else ''} kimg"


# ------------------------------------------------------------------------------------------------------------------
# Files that killed or damaged checkpoint writes left in a run, which only a resume (or a person) removes, the temp
# files of a killed evaluation, which the next evaluation into their folder removes, and those of other killed atomic
# writes (data.run_temps: a resume removes the run's own). `info` says where they are and what to do, and touches
# nothing: the read-only commands never delete a run's files.

def _why(kind: str, run: str, them: str, writer: str = "", host_only: str = "", eval_folder: bool = False
         ) -> tuple[str, str]:
    """(why files of `kind` are there, what to do about them) for a run given as the shell word `run`; `them`: how
    the advice names the files ("it", "them"); `writer`: for a write_temp, which writers' (_write_temps); `host_only`:
    for temp files on a file system whose folder locks hold on this machine only, its type (fileio.host_only_locks):
    there they may be another machine's write in progress, which the words say; `eval_folder`: an eval_temp in an
    eval-*/ folder (not the run folder), whose evaluation files `wildgan train --overwrite` removes, there too."""
    if host_only:
        why, _ = _why(kind, run, them, writer)
        its = "its" if them == "it" else "their"
        # (training.run._clear_old_run: an --overwrite removes the old run's eval-*/ folders' evaluation files, temp
        # files included, waiting for this machine's writes into them only, but no temp file in the run folder there,
        # the evaluations' nor the shared files')
        deleted = (f"nothing of wildgan's deletes {them} there but a `wildgan train --out {run} --overwrite`, which "
                   f"removes the evaluation files of {its} eval-*/ folder, these included (waiting for this machine's "
                   f"writes into it only)"
                   if kind == "eval_temp" and eval_folder else
                   f"nothing of wildgan's deletes {them} there, not even a `wildgan train --overwrite` of the run")
        return (f"{why}; or being written now by a process on another machine: the folder is on {host_only}, whose "
                f"folder locks hold on this machine only, so nothing tells which, and {deleted}",
                f"delete {them} by hand once no wildgan command on any machine writes into {its} folder")
    resume = f"`wildgan train --out {run} --resume` (of a finished run too: it trains nothing more)"
    if kind == "write_temp":
        return _why_write_temp(writer, resume, them)
    if kind == "orphan_weights":
        return ("the weights of a checkpoint whose JSON was never written: its write was cut between its two files "
                "(a kill or a second Ctrl-C between their renames; with an older wildgan, also a full disk as its "
                "JSON was written). Without its JSON it cannot be resumed from, scored or evaluated",
                f"{resume} deletes {them}; or delete {them} by hand")
    if kind == "orphan_of_set_aside":
        return ("the weights of a checkpoint whose JSON was set aside as damaged (its .corrupt.json beside it), "
                "left under their old name by a set-aside that was cut between its two renames",
                f"{resume} sets {them} aside beside the JSON (as .corrupt.safetensors, or .corrupt-n.safetensors "
                f"beside a .corrupt-n.json); or delete {them} by hand")
    if kind == "temp":
        return ("a checkpoint's temporary file, left by a process killed while it wrote the checkpoint",
                f"{resume} deletes {them}; or delete {them} by hand")
    if kind == "eval_temp":
        return ("the temporary file of an evaluation's output (eval.json, test_scores.csv, ...), left by a process "
                "killed while it wrote the evaluation",
                f"the next evaluation written into {'its' if them == 'it' else 'their'} folder deletes {them} "
                f"(`wildgan evaluate {run}`, with the --data, --normal or --whole that chose an eval-*/ folder); or "
                f"delete {them} by hand")
    return ("a checkpoint that a resume found damaged (it did not load or verify: truncated, checksum mismatch, bad "
            "metadata) and set aside, renamed rather than deleted so that it can be looked at; nothing of wildgan "
            "reads or removes it", f"delete {them} by hand once no longer wanted")


def _why_write_temp(writer: str, resume: str, them: str) -> tuple[str, str]:
    """_why's words for a temp file of an atomic write other than a checkpoint's weights or an evaluation's output,
    by its writer (data.run_temps): the training's own files, the files other commands write beside it, a Detector
    saved into the run folder (checkpoint.saved_pair_temp_files), or another file, whose writer no lock covers."""
    if writer == "training":
        return ("the temporary file of a training's write of a run file (config.json, split.json, stats.jsonl, a "
                "checkpoint's JSON, a sample grid, ...), left by a process killed before it renamed it into place",
                f"{resume} deletes {them}; or delete {them} by hand")
    if writer == "shared":
        return ("the temporary file of a write of the training scores' cache or a record beside it (train_scores"
                "*.csv, train_hashes.npz, fit_ids.json, detector_threshold.json), left by a process killed before "
                "it renamed it into place", f"{resume} deletes {them}, as does the next write of those files "
                                           f"(`wildgan score --threshold`); or delete {them} by hand")
    if writer == "detector":
        return ("the temporary file of a Detector saved into the run folder or a folder below it (det.save(RUN/NAME): "
                "its weights' .NAME.*.safetensors.tmp, or its NAME.json's), left by a process killed before it "
                "renamed it into place", f"the next det.save of that pair deletes {them} (once no other write or load "
                                         f"holds {'its' if them == 'it' else 'their'} folder: it waits for them); or "
                                         f"delete {them} by hand")
    return ("the temporary file of an atomic write of another file (an output written into the run folder, a "
            "rank's error record), left by a process killed before it renamed it into place, or being "
            "written now: no lock of wildgan's tells which", f"delete {them} by hand once no wildgan command writes "
                                                              f"into {'its' if them == 'it' else 'their'} folder")


def _write_temps(run_dir: Path, trained_now: bool) -> list[tuple[str, Path]]:
    """(writer, path) of each temp file of an atomic write left in run_dir and below it (data.run_temps), leaving out
    those that a write in progress may own where a lock tells so: the training's own while a process holds the run's
    lock, and the shared files' and a det.save's while a process holds the run folder (fileio.temps_being_written,
    which those writers hold); those of a run
    folder on a file system whose folder locks hold on this machine only are listed (fileio.host_only_locks: no
    lock tells there, and leftover_files says so)."""
    from ..checkpoint import saved_pair_temp_files
    from ..data.run_temps import other_write_temps, shared_write_temps, training_write_temps
    from ..fileio import host_only_locks, temps_being_written

    found = [] if trained_now else [("training", p) for p in training_write_temps(run_dir)]
    shared = shared_write_temps(run_dir)
    if shared and (host_only_locks(run_dir) or not temps_being_written(run_dir)):
        found += [("shared", p) for p in shared]
    # the temp files of a Detector saved into the run folder or one below it (det.save(RUN/model):
    # checkpoint.saved_pair_temp_files), no training's, so a resume leaves them (checkpoint.stale_temp_files): every
    # save holds the folder it writes in while it writes, as the shared files' writers hold the run folder, and its
    # next save of the pair deletes what a killed one left
    saved = saved_pair_temp_files(run_dir)
    shown = {folder for folder in dict.fromkeys(p.parent for p in saved)
             if host_only_locks(folder) or not temps_being_written(folder)}
    found += [("detector", p) for p in saved if p.parent in shown]
    return found + [("other", p) for p in other_write_temps(run_dir) if p not in set(saved)]


def leftover_files(run_dir: Path) -> list[dict[str, Any]]:
    """The files that interrupted or damaged checkpoint writes left in run_dir (and its checkpoints/), the temp files
    of killed evaluations in run_dir and its eval-*/ folders, and the temp files of other killed atomic writes in
    run_dir and below it, as records of path, bytes, kind (orphan_weights, orphan_of_set_aside, temp, set_aside,
    eval_temp, write_temp), why and what to do, and a write_temp's writer (training, shared, detector, other:
    _write_temps).
    Told by the rules of what removes them (the checkpoint module's orphan_weights, stale_temp_files,
    set_aside_files: those of the removals at a resume; data.eval_files.eval_temp_files, the next evaluation's;
    data.run_temps, a resume's and the shared files' next write's), and only read: nothing is deleted or renamed.
    While a process trains the run (its lock held), a checkpoint's temporary file, and then its weights without their
    JSON, stand for the moment of its write, as the temp files of its other writes do: those are that process's own,
    which it cleans up itself (a resume removes the ones a killed process left only once it holds the lock), so of
    the checkpoints' kinds only the set-aside files are listed then, and no training write_temp. Likewise an
    evaluation's temp files are left out while a process writes an evaluation into their folder, and the shared
    files' while one writes one of them (fileio.temps_being_written), which the next such write's clean-up waits for
    too (fileio.writing_temps). On a file system whose folder locks hold on this machine only (NFS, SMB, Lustre,
    sshfs, ...: fileio.host_only_locks) the evaluation's and the shared files' are listed all the same, with the type
    of that file system (host_only_locks) and words that say they may be a write's on another machine."""
    from ..checkpoint import orphan_of_set_aside, orphan_weights, set_aside_files, stale_temp_files
    from ..data.eval_files import eval_temp_files
    from ..fileio import host_only_locks, temps_being_written

    ck_dir = run_dir / "checkpoints"
    found: list[tuple[str, Path]] = []
    held = _lock_held(run_dir)
    if not held:
        found += [("orphan_of_set_aside" if orphan_of_set_aside(w) else "orphan_weights", w)
                  for w in orphan_weights(ck_dir)]
        found += [("temp", t) for t in stale_temp_files(run_dir)]
    found += [("set_aside", p) for p in set_aside_files(ck_dir)]
    # (evaluation.run.evaluation_dir: the run's own test split in the run folder, other data or classes in eval-*/;
    # host_only: the temp files whose writers' folder locks do not reach other machines, by the file system's type)
    host_only: dict[Path, str] = {}
    for folder in [run_dir, *sorted(p for p in run_dir.glob("eval-*") if p.is_dir())]:
        temps = eval_temp_files(folder)
        fs = host_only_locks(folder) if temps else ""
        if temps and (fs or not temps_being_written(folder)):
            found += [("eval_temp", t) for t in temps]
            if fs:
                host_only.update(dict.fromkeys(temps, fs))
    writers = {p: w for w, p in _write_temps(run_dir, held)}
    found += [("write_temp", p) for p in writers]
    # (the writers that hold their folder, which tells a write in progress on this machine only: the run folder, or
    # for a det.save the folder below it that it writes in)
    fs = {folder: host_only_locks(folder) for folder in dict.fromkeys(
        p.parent for p, w in writers.items() if w in ("shared", "detector"))}
    host_only.update({p: fs[p.parent] for p, w in writers.items() if w in ("shared", "detector") and fs[p.parent]})
    run = shell_word(run_dir)
    out = []
    for kind, path in found:
        try:
            size = path.stat().st_size
        except FileNotFoundError:         # gone since it was listed (a resume that started meanwhile)
            continue
        why, todo = _why(kind, run, "it", writers.get(path, ""), host_only.get(path, ""), path.parent != run_dir)
        out.append({"path": str(path), "bytes": size, "kind": kind, "why": why,
                    "what_to_do": f"{todo}: rm {shell_word(path)}",
                    **({"writer": writers[path]} if kind == "write_temp" else {}),
                    **({"host_only_locks": host_only[path]} if path in host_only else {})})
    return out


def _size(n: int) -> str:
    from ..fileio import size_text

    return size_text(n) if n >= 2**20 else f"{n:,} bytes"


def _leftover_lines(left: list[dict[str, Any]], run: str, run_dir: Path) -> list[str]:
    """What `wildgan info RUN` prints of leftover_files (of the run in run_dir): nothing when there are none; else,
    for each kind (a write_temp's for each writer), why its files are there, each with its size, and what to do, with
    the command that deletes them by hand."""
    from ..data.eval_files import names_text

    if not left:
        return []
    total = sum(f["bytes"] for f in left)
    kinds = {f["kind"] for f in left}
    by = names_text([w for w, there in (
        ("interrupted or damaged checkpoints", bool(kinds - {"eval_temp", "write_temp"})),
        ("interrupted evaluations", "eval_temp" in kinds),
        (f"{'other ' if kinds - {'write_temp'} else ''}interrupted writes", "write_temp" in kinds)) if there])
    lines = [f"{len(left)} file{'s' if len(left) > 1 else ''} left by {by} "
             f"({_size(total)} in all; no command reads them, and `wildgan info` leaves them as they are):"]
    for kind in ("orphan_weights", "orphan_of_set_aside", "temp", "set_aside", "eval_temp", "write_temp"):
        files = [f for f in left if f["kind"] == kind]
        # (a write_temp's words depend on its writer, a temp file's on whether its folder's locks reach other
        # machines, and there an evaluation's on its folder, the run folder or an eval-*/ one: a group for each)
        def group_of(f: dict[str, Any]) -> tuple[str, str, bool]:
            fs = f.get("host_only_locks", "")
            return f.get("writer", ""), fs, bool(fs) and kind == "eval_temp" and Path(f["path"]).parent != run_dir

        for writer, fs, in_eval in dict.fromkeys(group_of(f) for f in files):
            group = [f for f in files if group_of(f) == (writer, fs, in_eval)]
            why, todo = _why(kind, run, "it" if len(group) == 1 else "them", writer, fs, in_eval)
            lines.append(f"  {why}:")
            lines += [f"    {f['path']} ({_size(f['bytes'])})" for f in group]
            lines.append(f"    {todo}: rm {' '.join(shell_word(f['path']) for f in group)}")
    return lines


# ------------------------------------------------------------------------------------------------------------------
# The files beside a saved evaluation that are not the ones its eval.json records: what an evaluation stopped among its
# renames leaves (its new per-image files beside the earlier eval.json), or an edit. They are read (the report, tools),
# so they are said apart from the leftovers above, with the evaluation that writes them anew.

def stale_evaluation_files(run_dir: Path) -> list[dict[str, Any]]:
    """For each evaluation saved in run_dir (RUN/eval.json, RUN/eval-*/eval.json) beside which a side file is not the
    one its eval.json records (data.eval_files.unmatched_beside: the report's rule, by each file's size and sha256),
    {"eval_json", "files" (their paths), "what_to_do" (the `wildgan evaluate` command that writes that evaluation's
    files anew, together)}; [] where every one is its own, or its eval.json records none (an older wildgan's). Only
    read, as leftover_files: a reader told which files to trust, not a clean-up."""
    from ..data.eval_files import unmatched_beside
    from ..training.run import evaluate_command, saved_evaluations

    out = []
    for path in saved_evaluations(run_dir):
        names = unmatched_beside(path.parent)
        if not names:
            continue
        try:
            ev = json.loads(path.read_text(encoding="utf-8"))       # (its --data and --normal, for the command)
        except (OSError, ValueError):
            ev = {}                      # (replaced meanwhile: the plain command)
        again = evaluate_command(run_dir, path, ev if isinstance(ev, dict) else {})
        out.append({"eval_json": str(path), "files": [str(path.parent / n) for n in names],
                    "what_to_do": f"run `{again}` again to write the evaluation's files anew, together"})
    return out


def _stale_lines(stale: list[dict[str, Any]]) -> list[str]:
    """What `wildgan info RUN` prints of stale_evaluation_files: nothing when there are none."""
    from ..data.eval_files import EVAL_JSON, names_text, unmatched_why

    if not stale:
        return []
    lines = [f"changed files beside a saved evaluation (they differ from what it wrote, by each one's size and "
             f"sha256 in its {EVAL_JSON}: {unmatched_why(2)}; the report's AUCs are {EVAL_JSON}'s own, and no reader "
             f"should join these to them):"]
    for s in stale:
        lines.append(f"  {s['eval_json']}: {names_text([Path(f).name for f in s['files']])}")
        lines.append(f"    {s['what_to_do']}")
    return lines
