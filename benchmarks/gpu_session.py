#!/usr/bin/env python
"""One prepared device call for a session that is lent a GPU (issue 5): checks, benchmark, as much of the paper's
CIFAR_CAR schedule at width 256 as the budget allows, evaluation with controls, one table -- inside a hard
wall-clock budget.

Order: versions and the pre-flight (benchmarks/cuda_preflight.py: seconds of the CUDA-only training, data and scoring
paths, graph captures checked strictly; a mismatch beyond a tolerance is tried once more with the fused kernels; where
they fail and WILDGAN_KERNELS=plain passes, the training runs and their evaluations take the plain ones; it is not run
again after a timeout, or a failure in a check that runs none of those kernels), the CUDA fast-path tests, the data
(decoded once), the benchmark of the main run's configuration (paper preset at width 256), the main run, its
evaluation, then the rest of the benchmark (width 512 and fast), and, with time to spare, the decoding of the data
set's JPEGs by one process against a pool (benchmarks/decode.py).
The paper's schedule (about 4,000 kimg) fits in one ~9-minute call only if the fast path reaches issue 5's goal:
the first benchmark projects it from the measured per-phase rates, and when it does not fit, the main run uses the
same schedule with shorter phases (full growth to 32x32; the summary says so) -- an AUC at full resolution says
more than one of a run stopped half-way. The AUC table says at which resolution each run was scored.

Why a driver with a deadline instead of a shell script of fixed timeouts: the device tool kills the whole command
at its limit, and a kill in the middle would lose the table. Here every step gets what is left of the budget minus
what the later steps need, and the summary is rewritten after every step, so a kill still leaves the results of
every finished step under OUT.

The device tool returns at most 8 files from $OUT, at most 2 folders down, so run directories (checkpoints are
hundreds of MB at width 256) live in WORK and only these come back:
  OUT/summary.md       the table and the step timings (rewritten after every step)
  OUT/results.json     everything measured, machine-readable
  OUT/session.log      the output of every step
  OUT/bench.json       benchmarks/bench.py's JSON
  OUT/main-stats.jsonl the width-256 run's training log (per-phase img/s, losses, memory)
  OUT/main-samples.png its last Gs sample grid

On the development machine (CPU, no GPU) the same driver runs as a smoke test of itself (tests/integration/
test_gpu_session.py): `--device cpu --smoke` uses the embedded MNIST sample, the tiny preset and a few seconds
per step.

Usage on the device (after `mkdir -p devdata && cp ../shared/data/cifar10/cifar10-jpeg.tar.gz devdata/` here):
  run(command="PYTHONUNBUFFERED=1 python3 benchmarks/gpu_session.py --budget 520", carry=["devdata"],
      timeout_s=560)
or, when an earlier call measured the rates (the 2026-11-29 H200 session: benchmarks/RESULTS.md), the paper's
schedule first and the benchmark after it:
  run(command="PYTHONUNBUFFERED=1 python3 benchmarks/gpu_session.py --budget 585 --main-first --bench-res 32",
      carry=["devdata"], timeout_s=600)
The 2026-11-30 H200 session ran the paper's whole schedule at width 256 that way in one call (450 s of training with
--gp-precision amp, 546 s for the call; benchmarks/RESULTS.md):
  run(command="PYTHONUNBUFFERED=1 python3 benchmarks/gpu_session.py --budget 588 --main-first --bench-res 32
      --gp-precision amp", carry=["devdata"], timeout_s=600)
With the GP in fp32 (the default) the schedule needs at least ~490 s of training, more than such a call leaves.
--probe is a short call of A/B benchmark rows for the open speed questions (the merged real/fake critic pass, 4x4,
every phase at width 512, a kernel profile, torch.compile); the next session's plan in benchmarks/RESULTS.md runs it
after the main call.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GRACE = 30.0          # seconds a step gets after SIGTERM to write what it has


def _num(v: Any, fmt: str = ".3f") -> str:
    return "-" if not isinstance(v, (int, float)) else format(v, fmt)


class Session:
    def __init__(self, out: Path, work: Path, budget: float) -> None:
        self.out, self.work, self.t0, self.budget = out, work, time.monotonic(), budget
        self.results: dict[str, Any] = {"steps": []}
        out.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        self.log = open(out / "session.log", "a", encoding="utf-8")

    def left(self) -> float:
        return self.budget - (time.monotonic() - self.t0)

    def say(self, msg: str) -> None:
        line = f"[{time.monotonic() - self.t0:6.0f}s] {msg}"
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def step(self, name: str, cmd: list[str], timeout: float, stdout_to: Path | None = None,
             env_extra: dict[str, str] | None = None) -> dict[str, Any]:
        """Run one step as a subprocess (a crash or hang in one step must not take the others with it), with
        env_extra (recorded as the step's "env") on top of this process's environment.

        A step past its timeout gets SIGTERM and GRACE seconds to write what it has (a checkpoint, a partial
        bench.json), then SIGKILL; the grace is inside the budget."""
        timeout = max(1.0, min(timeout, self.left() - GRACE - 5))
        said = " ".join(f"{k}={v}" for k, v in (env_extra or {}).items())
        self.say(f"=== {name}: {said + ' ' if said else ''}{' '.join(cmd)}  (timeout {timeout:.0f}s, "
                 f"{self.left():.0f}s left)")
        env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                   PYTHONUNBUFFERED="1", **(env_extra or {}))
        t = time.monotonic()
        rec: dict[str, Any] = {"name": name, "cmd": cmd}
        if env_extra:
            rec["env"] = dict(env_extra)
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             encoding="utf-8", errors="replace")
        try:
            out, err = p.communicate(timeout=timeout)
            rec["rc"] = p.returncode
        except subprocess.TimeoutExpired:
            # SIGTERM first: `wildgan train` then writes a checkpoint and exits, so the run can still be evaluated
            p.terminate()
            try:
                out, err = p.communicate(timeout=max(1.0, min(GRACE, self.left() - 2)))
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            rec["rc"] = "timeout"
        rec["seconds"] = round(time.monotonic() - t, 1)
        if stdout_to is not None:
            stdout_to.write_text(out, encoding="utf-8")
        self.log.write(f"--- stdout\n{out if stdout_to is None else '(in ' + stdout_to.name + ')'}\n"
                       f"--- stderr\n{err[-20000:]}\n")
        self.log.flush()
        tail = (err or out).strip().splitlines()[-3:]
        self.say(f"    rc={rec['rc']} in {rec['seconds']}s" + ("" if rec["rc"] == 0 else "  | " + " | ".join(tail)))
        rec["stdout_tail"] = out[-4000:]
        self.results["steps"].append(rec)
        self.write_summary()
        return rec

    def write_summary(self) -> None:
        # never let the driver's own bookkeeping end the session: every later step still runs
        try:
            (self.out / "results.json").write_text(json.dumps(self.results, indent=1, default=str), encoding="utf-8")
        except Exception as e:  # noqa: BLE001
            self.say(f"could not write results.json: {e!r}")
        try:
            (self.out / "summary.md").write_text(summary_markdown(self.results), encoding="utf-8")
        except Exception as e:  # noqa: BLE001
            self.say(f"could not write summary.md: {e!r}")


def eval_row(name: str, e: dict[str, Any]) -> str:
    a, c = e.get("auc", {}), e.get("controls", {})
    m = e.get("model", {})
    res = m.get("scored_resolution")
    cells = [name, _num(m.get("kimg"), ".0f"), str(m.get("status")), f"{res}x{res}" if res else "-"]
    cells += [_num(a.get(k)) for k in ("a", "L_n", "L_o", "L_r", "A")]
    cells += [_num(c.get("untrained", {}).get("a")), _num(c.get("pixel_norm")), _num(c.get("pixel_std"))]
    # what a is worth on these test images (DeLong: eval.json's auc_ci95 and paired tests; '-' before they existed)
    ci = (e.get("auc_ci95") or {}).get("a")
    defined = isinstance(ci, list) and len(ci) == 2 and all(isinstance(x, (int, float)) for x in ci)
    cells.append(f"{_num(ci[0])}-{_num(ci[1])}" if defined else "-")      # ([null, null]: undefined, one class)
    vs = (e.get("auc_vs_controls") or {}).get("a") or {}
    cells += [_num((vs.get(k) or {}).get("p"), ".2g") for k in ("untrained", "pixel_std")]
    return "| " + " | ".join(cells) + " |"


def summary_markdown(r: dict[str, Any]) -> str:
    lines = ["# GPU session summary", "", f"machine: {r.get('machine', '?')}", ""]
    lines += ["| step | rc | seconds |", "|---|---|---|"]
    lines += [f"| {s['name']} | {s['rc']} | {s['seconds']} |" for s in r["steps"]]
    b = r.get("bench")
    if b:
        ce = b.get("ceiling", {})
        lines += ["", f"## Benchmark (matmul ceiling {_num(ce.get('tflops'), '.1f')} TFLOP/s, {ce.get('dtype')})"
                  + ("" if b.get("complete", True) else " -- stopped at its deadline: the rows measured so far"), "",
                  "| preset | width | phase | lod | batch | img/s | TFLOP/s | % ceiling | peak MB (reserved) "
                  "| host syncs | CUDA graph | warm-up s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for p in b.get("presets", []):
            fo = p.get("fast_options", {})
            variant = "".join([f" gp {fo['gp_precision']}" if fo.get("gp_precision", "fp32") != "fp32" else "",
                               f" compile {fo['compile']}" if fo.get("compile", "off") != "off" else "",
                               " plain norm" if fo.get("plain_pixel_norm_forced") else "",
                               " plain stddev" if fo.get("stddev_variance") == "plain" else "",
                               " separate critic" if fo.get("critic_pass") == "separate" else "",
                               " layer weights" if fo.get("weights") == "per layer" else ""])
            if p.get("variant"):                     # --probe's name for the row set (its flags: results.json)
                variant = f" {p['variant']}"
            for ph in p.get("phases", []):
                lines.append(f"| {p['preset']}{variant} | {p.get('fmap_max')} | {ph['res']}x{ph['res']} {ph['kind']} | "
                             f"{ph['lod']} | {ph['batch']} | {_num(ph.get('img_per_s'), '.0f')} | "
                             f"{_num(ph.get('tflops'), '.1f')} | {_num(100 * ph.get('frac_ceiling', 0), '.1f')}% | "
                             f"{_num(ph.get('peak_mem_mb'), '.0f')} ({_num(ph.get('peak_reserved_mb'), '.0f')}) | "
                             f"{ph.get('host_syncs', '-')} | {'yes' if ph.get('graphed') else 'no'} | "
                             f"{_num(ph.get('warmup_s'), '.1f')} |")
            for sc in p.get("score", []):
                lines.append(f"| {p['preset']} | {p.get('fmap_max')} | scoring {sc['mode']} batch "
                             f"64 x {sc.get('stack', 1)}{'' if sc.get('with_A', True) else ' without A'} | | | "
                             f"{_num(sc.get('img_per_s'), '.0f')} | | | "
                             f"{_num(sc.get('peak_mem_mb'), '.0f')} | | |")
            if p.get("schedule_minutes_est") is not None:
                lines.append(f"| {p['preset']} | {p.get('fmap_max')} | est. full schedule (4,000 kimg): "
                             f"{p['schedule_minutes_est']:.1f} min | | | | | | | | |")
    for st in r["steps"]:
        if st["name"] == "decode benchmark" and st.get("rc") == 0:
            lines += ["", "## Decoding image files (benchmarks/decode.py)", ""]
            lines += [ln for ln in st.get("stdout_tail", "").splitlines() if ln.startswith("|") or "files under" in ln]
    if r.get("profile"):
        lines += ["", "## Kernel profile (benchmarks/profile_step.py; eager, no CUDA graphs)", "", "```",
                  r["profile"].rstrip(), "```"]
    if r.get("schedule"):
        lines += ["", f"Main run's schedule: {r['schedule'].get('why')}"]
    if r.get("preflight") not in (None, "passed"):
        lines += ["", f"**{r['preflight']}**"]
    if r.get("main_retry"):
        lines += ["", f"**{r['main_retry']}**"]
    ev = r.get("evals", {})
    if ev:
        lines += ["", "## AUC (controls: untrained networks' a, -||Q||, -std Q)", "",
                  "kimg of the paper's ~4,000; status 'budget' = stopped at --minutes with a checkpoint, scored at the "
                  "resolution it reached (not the paper's result unless it reached 32x32 after the full schedule).", "",
                  "a's 95% CI is over the test images (DeLong); p: DeLong's paired test of a against the untrained "
                  "networks' a and against -std Q (sign flipped if below 0.5). Neither counts training's own spread.",
                  "",
                  "| run | kimg | status | scored at | a | L_n | L_o | L_r | A | untrained a | -‖Q‖ | -std Q "
                  "| a 95% CI | p vs untrained | p vs -std Q |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        lines += [eval_row(k, v) for k, v in ev.items()]
        for k, v in ev.items():
            t = r.get("train", {}).get(k)
            if t:
                lines.append(f"\n{k}: {t}")
    return "\n".join(lines) + "\n"


def _read_json(path: Path, rec: dict[str, Any]) -> Any:
    """A step's JSON output, or None (the reason goes into the step's record)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        rec["error"] = str(e)
        return None


def choose_schedule(est_minutes: float | None, avail_s: float, reserve_bench_b: float = 100.0,
                    margin: float = 1.15, startup_s: float = 30.0) -> dict[str, Any]:
    """The main run's schedule from the benchmark's projection of the paper's (600 kimg per phase) at the measured
    per-phase rates: the paper's when it fits in avail_s (with a margin for captures and checkpoints); else the
    phase length scaled so that the full growth fits in avail_s minus a slot for the rest of the benchmark.
    Without a projection: the paper's, stopped by --minutes wherever it is."""
    if not est_minutes:
        # with 600-kimg phases a 1-3 minute budget never leaves 4x4: guess phases that grow to 32x32 (7 phases) in
        # it at an average 4k img/s (spec section 10's eager PyTorch: 4-7k img/s at 4x4-16x16, ~100 TFLOP/s at 32x32,
        # i.e. ~2k img/s at width 256)
        phase = max(1.0, float(int(4.0 * max(avail_s - reserve_bench_b - startup_s, 1.0) / (7 * margin))))
        phase = min(phase, 600.0)
        return {"phase_kimg": phase, "reserve_bench_b": reserve_bench_b, "kind": "guessed (no projection)",
                "why": f"no benchmark projection (the benchmark stopped before every phase was measured): phases "
                       f"of {phase:g} kimg, guessed from 4k img/s so that the run grows to 32x32 in the budget"}
    need = est_minutes * 60 * margin + startup_s
    if need <= avail_s:
        return {"phase_kimg": 600.0, "reserve_bench_b": 0.0, "kind": "paper",
                "why": f"the paper's schedule fits: projected {need:.0f} s of {avail_s:.0f} s"}
    room = max(avail_s - reserve_bench_b - startup_s, 1.0)
    phase = max(1.0, float(int(600.0 * room / (est_minutes * 60 * margin))))
    return {"phase_kimg": phase, "reserve_bench_b": reserve_bench_b, "kind": "scaled",
            "why": f"the paper's schedule needs a projected {need:.0f} s but {avail_s:.0f} s are left: phases of "
                   f"{phase:g} kimg instead of 600 (the same growth to 32x32, {phase / 600:.1%} of the images)"}


def train_summary(run_dir: Path) -> dict[str, Any]:
    """Wall time, kimg and the last resolution of a run, from its stats.jsonl."""
    rows = []
    p = run_dir / "stats.jsonl"
    if p.is_file():
        for line in p.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    if not rows:
        return {}
    last = rows[-1]
    out = {k: last.get(k) for k in ("kimg", "resolution", "lod", "img_per_s", "peak_gpu_mem_mb") if k in last}
    if "time" in rows[0]:
        # the first row's own span (its images at its rate) too: a row is stamped at its end, and the first one
        # holds the first CUDA-graph capture
        first = rows[0]
        span0 = first.get("iters", 0) * first.get("batch", 0) / first["img_per_s"] if first.get("img_per_s") else 0.0
        out["logged_seconds"] = round(last["time"] - first["time"] + span0, 1)
    return out


# the pre-flight's checks that run none of the kernels WILDGAN_KERNELS chooses (benchmarks/cuda_preflight.py: they
# build the networks, place and gather the images, compare RNG states): a failure there fails with the plain ones too
KERNEL_FREE_CHECKS = ("setup", "data", "rng")


def extra_width(extra: list[str]) -> str | None:
    """The --width that --main-extra's words give the main run (the last one, as argparse keeps it), else None."""
    found = None
    for i, w in enumerate(extra):
        if w == "--width" and i + 1 < len(extra):
            found = extra[i + 1]
        elif w.startswith("--width="):
            found = w.split("=", 1)[1]
    return found


def plain_rerun_futile(rec: dict[str, Any]) -> str | None:
    """Why a run of the pre-flight with WILDGAN_KERNELS=plain would fail as `rec` (its failed step) did, in words;
    None where the fused kernels may be the cause (it failed in its training or scoring check, or died without saying
    where: a CUDA fault that aborts the process). A rerun costs up to its 60-s timeout of the main run's --minutes."""
    if rec["rc"] == "timeout":
        return "it ran past its timeout (a hang or a slow start, which the kernels' choice does not change)"
    tail = rec.get("stdout_tail") or ""
    # (its last line names the check; where the process died before that line, after a CUDA fault, the check's own
    # line does)
    failed = re.search(r"pre-flight FAILED at (\w+)", tail) or re.search(r"^FAILED (\w+) after ", tail, re.M)
    if failed and failed.group(1) in KERNEL_FREE_CHECKS:
        return f"it failed at its {failed.group(1)} check, which runs none of the kernels WILDGAN_KERNELS chooses"
    return None


def fused_retry_may_pass(rec: dict[str, Any]) -> bool:
    """Whether the pre-flight's failure (`rec`, its failed step) was a mismatch beyond a tolerance, which its last line
    says (cuda_preflight.MISMATCH_SAID): a captured graph against eager, stacked scoring against one batch per
    forward. Numerical noise just over a tolerance, or a nondeterministic capture, need not repeat in a fresh process,
    and one such failure must not cost the main run its fused kernels. A crash (a CUDA error, a death without a last
    line) or a timeout is not tried again with the same kernels."""
    return rec["rc"] == 1 and re.search(r"^pre-flight FAILED at \w+ .*: a mismatch beyond a tolerance",
                                        rec.get("stdout_tail") or "", re.M) is not None


def preflight(s: Session, a: argparse.Namespace, py: str, cmd: list[str]) -> dict[str, str]:
    """The versions and benchmarks/cuda_preflight.py's seconds of the CUDA-only paths, before the main run; returns
    the environment the main run and its evaluation get: {} (the fused kernels, CUDA's default), or
    WILDGAN_KERNELS=plain where the pre-flight failed with the fused kernels and passed with the plain ones. Where it
    failed with both, the fault is elsewhere: the main run goes as it is (and its own retry stays). No rerun where
    the plain kernels cannot change the outcome (plain_rerun_futile): its seconds stay the main run's.

    A mismatch (fused_retry_may_pass) is run once more with the fused kernels first: a pass there keeps them, and only
    a second failure goes on to the plain kernels. What the second try costs: one more pre-flight, under the plain
    rerun's 60-s timeout (its own seconds are in the first run's last line: the same checks, warm disk caches), and
    only after a mismatch. Every second counts against the main run's --minutes: the pre-flight's worst case grows
    from 75 + 60 s to 75 + 60 + 60 s (a mismatch, a second failure, the plain run), and the common one, a pass at the
    first try, is unchanged. results["preflight"] (summary.md, session.log) says which way it went."""
    first = cmd if not a.smoke_fail_preflight else \
        [py, "-c", "import sys; sys.exit('smoke: the pre-flight fails on purpose')"]
    rec = s.step("versions and pre-flight", first, 75)
    if rec["rc"] == 0:
        s.results["preflight"] = "passed"
        return {}

    def said(msg: str, kernels: dict[str, str]) -> dict[str, str]:
        s.results["preflight"] = msg
        s.say(msg)
        s.write_summary()
        return kernels

    futile = plain_rerun_futile(rec)
    if futile:
        return said(f"the pre-flight failed (rc {rec['rc']}; session.log has why): {futile}, so it is not run with "
                    f"the plain kernels: the main run goes as it is", {})
    fused = f"rc {rec['rc']}: not a mismatch, so not tried again with them"
    if fused_retry_may_pass(rec):
        s.say("the pre-flight failed with a mismatch beyond a tolerance, which may be noise: once more with the fused "
              "kernels")
        second = s.step("pre-flight (fused kernels, second try)", cmd, 60)
        if second["rc"] == 0:
            return said("the pre-flight failed once with the fused kernels (a mismatch; session.log has it) and "
                        "passed at a second try: the main run and its evaluation keep the fused kernels", {})
        futile = plain_rerun_futile(second)
        if futile:
            return said(f"the pre-flight failed twice with the fused kernels (a mismatch, then rc {second['rc']}; "
                        f"session.log has why): {futile}, so it is not run with the plain kernels: the main run goes "
                        f"as it is", {})
        fused = f"twice: a mismatch, then rc {second['rc']}"
    kernels = {"WILDGAN_KERNELS": "plain"}
    again = s.step("pre-flight (plain kernels)", cmd, 60, env_extra=kernels)
    if again["rc"] == 0:
        return said(f"the pre-flight failed with the fused kernels ({fused}) and passed with the plain ones: the "
                    f"main run and its evaluation use WILDGAN_KERNELS=plain", kernels)
    return said(f"the pre-flight failed with the fused and the plain kernels (fused {fused}; plain rc {again['rc']}; "
                f"session.log has why): the main run goes as it is", {})


def probe(s: Session, a: argparse.Namespace, py: str, out: Path, work: Path) -> int:
    """--probe: the open questions' A/B rows side by side (training rows only, GP in bf16 as the full-schedule run),
    most important first, each inside what is left of the budget (rows kept at deadlines); then a kernel profile."""
    if a.smoke:
        base = ["--preset", "tiny", "--quick", "--resolution", "32", "--channels", "1", "--amp", "bf16",
                "--channels-last", "on", "--no-score"]
        prof = ["--device", "cpu", "--preset", "tiny", "--res", "8", "--iters", "1"]
    else:
        base = ["--preset", "paper:256", "--quick", "--no-score", "--gp-precision", a.gp_precision or "amp"]
        # 8x8: what bounds the low-resolution phases (32x32 was profiled on 2026-11-30, benchmarks/RESULTS.md)
        prof = ["--device", a.device, "--preset", "paper:256", "--res", "8", "--iters", "3",
                "--gp-precision", a.gp_precision or "amp"]
    # In order, each kept if the budget ends: (1) the code as it is; (2) without the flat run-time weights
    # (2026-12-01); (3) without them and without the D step's merged real/fake critic pass (2026-11-30): session
    # seven's iteration. 1 against 2 is the flat weights' gain, 2 against 3 the merged pass's. (4) The minibatch
    # stddev's variance as the plain formula (2026-12-02) at 4x4 and 8x8, against 1. (5) 4x4 without the fused pixel
    # norm, against the session-five rate. (6) Every phase at width 512 (the paper's), whose schedule no call can run
    # whole: bench.py projects it from the phase rates (issue 5's 15-minute goal). (7) torch.compile, last because its
    # compile time on the H200 is unknown (warmup_s in its rows says it).
    # (Rows 1 and 4 name --flat-weights, CUDA's default, so that the CPU smoke run of this probe measures the same.)
    variants = [("as is", ["--res", "4,8,32", "--flat-weights"]),
                ("layer weights", ["--res", "4,8,32", "--layer-weights"]),
                ("separate critic", ["--res", "4,8,32", "--separate-critic", "--layer-weights"]),
                ("plain stddev", ["--res", "4,8", "--flat-weights", "--plain-stddev"]),
                ("4x4 plain norm", ["--res", "4", "--plain-pixel-norm"]),
                ("width 512", ["--preset", "tiny" if a.smoke else "paper"]),
                ("compile default", ["--res", "8,32", "--compile", "default"])]
    s.results["bench"] = {}
    bench_json = out / "bench.json"
    # the first row's matrix-rate ceiling is every later row's (bench.py --ceiling-from): the rows' "% ceiling" are
    # then of one denominator, the one summary.md names, and the later rows skip its measurement (~0.5 s each on the
    # CPU smoke run, which is mostly the starts of nine processes)
    ceiling_from: list[str] = []

    def bench(name: str, extra: list[str], timeout: float) -> None:
        tmp = work / f"bench-{name.replace(' ', '-')}.json"
        rec = s.step(f"benchmark ({name})", [py, "benchmarks/bench.py", "--device", a.device, *base, *extra,
                                             *ceiling_from, "--json", str(tmp)], timeout)
        more = _read_json(tmp, rec)
        if more and not ceiling_from and (more.get("ceiling") or {}).get("tflops"):
            ceiling_from[:] = ["--ceiling-from", str(tmp)]
        if more:
            for p in more.get("presets", []):
                p["variant"] = name
            s.results["bench"].setdefault("presets", []).extend(more.get("presets", []))
            s.results["bench"].setdefault("ceiling", more.get("ceiling"))
            bench_json.write_text(json.dumps(s.results["bench"], indent=2, default=str), encoding="utf-8")
        s.write_summary()

    def profile() -> None:
        if s.left() < 30 + GRACE:
            s.say(f"skipped: kernel profile, {s.left():.0f}s left")
            return
        s.step("kernel profile", [py, "benchmarks/profile_step.py", *prof, "--csv", str(out / "profile.csv")],
               min(60.0, s.left() - GRACE - 5), stdout_to=work / "profile.txt")
        try:
            s.results["profile"] = (work / "profile.txt").read_text(encoding="utf-8")[-6000:]
        except OSError:
            pass
        s.write_summary()

    def cuda_tests() -> None:
        # the CUDA-only tests (graph capture against eager, no host sync, images in host memory): call 1 with
        # --main-first runs none of them, and the code they cover changed without a GPU (2026-11-30)
        # (on a CPU, --smoke, they skip in seconds: the step's command line is tested anyway; no -x: a failure of one
        # must not hide the others' result in a scarce GPU session)
        if s.left() < 45 + GRACE:
            s.say(f"skipped: CUDA tests ({s.left():.0f}s left)")
            return
        s.step("fast-path tests (cuda)", [py, "-m", "pytest", "-q", "tests/unit/training/test_fast_path.py", "-k",
                                          "cuda", "-p", "no:cacheprovider"], min(90.0, s.left() - GRACE - 5))

    for name, extra in variants:
        compiling = "--compile" in extra
        if compiling:
            profile()           # before compile, which may take whatever is left
            cuda_tests()
            if a.smoke:
                continue        # minutes of compilation on the CPU
        if s.left() < (60 if compiling else 25) + GRACE:     # compiling two phases needs a minute at least
            s.say(f"skipped: benchmark ({name}), {s.left():.0f}s left")
            continue
        bench(name, extra, s.left() - GRACE - 5 if compiling else min(90.0, s.left() - GRACE - 5))
    s.say(f"done, {s.left():.0f}s of the budget left")
    print()
    print((out / "summary.md").read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("OUT", "out"))
    ap.add_argument("--work", default="gpu-work", help="run directories (not returned by the device tool)")
    ap.add_argument("--budget", type=float, default=520, help="wall-clock seconds for everything")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--data", default="devdata/cifar10-jpeg.tar.gz")
    ap.add_argument("--smoke", action="store_true", help="CPU self-test: embedded MNIST, tiny preset, seconds")
    ap.add_argument("--main-first", action="store_true",
                    help="the paper's schedule straight away (no benchmark before it, no fast-path tests, no separate "
                         "data step), then the benchmark with what is left: for a second call whose rates an earlier "
                         "call measured (gpu_session's own first benchmark costs ~1 minute of a ~9-minute budget)")
    ap.add_argument("--bench-res", default="",
                    help="--main-first: the benchmark after the run measures only these resolution phases of the "
                         "paper preset (e.g. 32), then fast whole")
    ap.add_argument("--probe", action="store_true",
                    help="a short call of A/B benchmark rows (training only, GP in bf16 unless --gp-precision; "
                         "every row's %% of ceiling of the first row's ceiling): at "
                         "width 256 the code as it is, then without the flat run-time weights, then also "
                         "without the merged real/fake critic pass, at 4x4, 8x8 and 32x32; the plain "
                         "minibatch-stddev variance at 4x4 and 8x8; 4x4 "
                         "with the plain pixel norm; every phase at width 512 (the schedule's projection); an 8x8 "
                         "kernel profile (benchmarks/profile_step.py -> OUT/profile.csv); the CUDA fast-path tests; "
                         "torch.compile at 8x8 and 32x32 with what is left")
    ap.add_argument("--gp-precision", choices=("fp32", "amp"),
                    help="passed to the main run and every benchmark (default: wildgan's, fp32)")
    ap.add_argument("--extra", action="store_true",
                    help="after the main run, fast-preset runs at gamma 0 and 2%% (each ~2.5 min) if time is left")
    ap.add_argument("--main-contamination", type=float, default=0.0,
                    help="the main run's gamma (e.g. 0.02: the paper's contaminated CIFAR_CAR cell; default 0)")
    ap.add_argument("--main-seed", type=int, default=0,
                    help="the main run's --seed (default 0): its training and its data draw (which anomalies a "
                         "contaminated training set gets)")
    ap.add_argument("--main-extra", default="",
                    help="more `wildgan train` options for the main run, one string (e.g. \"--compile default\")")
    ap.add_argument("--smoke-fail-main", action="store_true", help=argparse.SUPPRESS)   # with --smoke: tests the retry
    # with --smoke: the pre-flight's first run fails, its plain-kernels run passes (the main run then takes those)
    ap.add_argument("--no-preflight", action="store_true",
                    help="skip benchmarks/cuda_preflight.py (only the versions are printed): its ~10-20 s come out of "
                         "the main run's --minutes, which had ~30 s to spare on the paper schedule at width 256")
    ap.add_argument("--smoke-fail-preflight", action="store_true", help=argparse.SUPPRESS)
    # with --smoke: no benchmark or decoding after the main run's evaluation (the tests of the steps before them; the
    # full smoke run and the --main-first one run them)
    ap.add_argument("--smoke-until-eval", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if (a.smoke_fail_main or a.smoke_fail_preflight or a.smoke_until_eval) and not a.smoke:
        ap.error("--smoke-fail-main, --smoke-fail-preflight and --smoke-until-eval are self-tests of --smoke")
    if a.smoke and a.main_contamination:
        ap.error("--main-contamination is for the CIFAR-10 run (the --smoke run has no anomalies to inject)")
    try:
        main_extra = shlex.split(a.main_extra)
    except ValueError as e:
        ap.error(f"--main-extra: {e}")
    if a.bench_res and not a.main_first:
        ap.error("--bench-res applies to the benchmark after a --main-first run")
    a.data = str(Path(a.data).resolve())     # the steps run in the repository root, wherever this was started
    py = sys.executable
    out, work = Path(a.out).resolve(), Path(a.work).resolve()
    s = Session(out, work, a.budget)
    os.environ.setdefault("WILDGAN_CACHE", str(work / "cache"))

    if a.smoke:
        data = ["--dataset", "mnist", "--normal", "1"]
        # bf16 autocast + channels_last: the same fast-path code (StepRunner._body) as on CUDA, on the CPU
        fastpath = ["--quick", "--resolution", "32", "--channels", "1", "--amp", "bf16", "--channels-last", "on"]
        bench_a, bench_b = ["--preset", "tiny:32", *fastpath], ["--preset", "tiny", *fastpath]
        main_train = ["--preset", "tiny", "--total-kimg", "1", "--phase-kimg", "0.25", "--amp", "bf16",
                      "--channels-last", "on"]
        extra_runs: list[tuple[str, list[str]]] = []
        reserve_eval = 30.0
    else:
        # (--probe reads no data set: it must not be refused on a machine the data was not carried to)
        if not a.probe and not Path(a.data).is_file():
            s.say(f"data file {a.data} is missing: copy cifar10-jpeg.tar.gz into devdata/ and carry it")
            return 2
        data = ["--data", a.data, "--dataset", "cifar10", "--normal", "automobile"]
        # the main run's configuration first (its per-phase rates project the full schedule); after the run, the
        # paper's width (the issue's 40%-of-bf16 and 20k img/s scoring goals) and fast; rows kept on a deadline
        bench_a, bench_b = ["--preset", "paper:256", "--quick"], ["--preset", "paper,fast", "--quick"]
        # The paper's schedule (600/600 kimg per level, about 4,000 kimg) at width 256 (issue 5's acceptance).
        main_train = ["--preset", "paper", "--width", "256", "--contamination", f"{a.main_contamination:g}"]
        extra_runs = [(f"fast-g{g}", ["--preset", "fast", "--contamination", g]) for g in ("0", "0.02")
                      if a.extra]
        reserve_eval = 30.0 if a.main_first else 90.0      # an evaluation took 9 s on the H200 (2,000 images)

    gp = ["--gp-precision", a.gp_precision] if a.gp_precision else []

    # 1. machine
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        smi = "no nvidia-smi"
    import platform

    s.results["machine"] = f"{smi}; {platform.node()}; python {platform.python_version()}"
    # (at the main run's width: a --width in --main-extra, say 512, is the one whose kernels and memory it checks)
    preflight_width = extra_width(main_extra) or ("16" if a.smoke else None)
    preflight_cmd = [py, "benchmarks/cuda_preflight.py", "--device", a.device, *gp,
                     *(["--width", preflight_width] if preflight_width else [])]
    if a.probe or a.no_preflight:
        # (a probe's bench rows come after a main call, which ran the pre-flight)
        s.step("versions", [py, "benchmarks/cuda_preflight.py", "--versions-only"], 60)
    if a.probe:
        return probe(s, a, py, out, work)
    if a.no_preflight:
        s.results["preflight"] = "skipped (--no-preflight)"
        main_kernels: dict[str, str] = {}     # (CUDA's default, fused; the main run's own retry stays)
    else:
        # the main run's kernels: the plain ones where the pre-flight fails with the fused ones and passes without
        main_kernels = preflight(s, a, py, preflight_cmd)

    # 2. the CUDA fast-path tests (capture, eager validation, no host sync); skipped on CPU smoke runs
    if not a.smoke and not a.main_first:
        s.step("fast-path tests", [py, "-m", "pytest", "-q", "-x", "tests/unit/training/test_fast_path.py", "-k",
                                   "cuda", "-p", "no:cacheprovider"], 90)

    # 3. the data: unpacked once into the cache and, CIFAR's small same-size images, decoded once into it (its cost
    #    is visible here, not hidden in the training step's margin, where a SIGTERM during decoding would leave
    #    nothing to evaluate)
    if not a.smoke and not a.main_first:
        s.step("data", [py, "-c", "import sys; from wildgan.config import DataConfig; from wildgan.data import "
                        "build_split; s = build_split(DataConfig(data=sys.argv[1], dataset='cifar10', "
                        "normal=('automobile',))); print(s.info['n_train'], 'training images')", a.data], 150)

    # 4. benchmark of the main run's configuration (its per-phase rates project the paper's schedule)
    bench_json = out / "bench.json"
    if a.main_first:
        s.results["bench"] = {}
        if bench_b and a.bench_res:
            # the paper preset's full-resolution rows (the 40%-of-bf16 and scoring goals) before fast, in two runs
            bench_b = ["--preset", "paper", "--quick", "--res", a.bench_res]
    else:
        rec = s.step("benchmark (main run's configuration)",
                     [py, "benchmarks/bench.py", "--device", a.device, *bench_a, *gp, "--json", str(bench_json)],
                     min(110.0, s.left() * 0.3))
        s.results["bench"] = _read_json(bench_json, rec) or {}
        s.write_summary()

    # 5. the schedule: the paper's (600 kimg per phase, ~4,000 kimg) when the projection says it fits in what is
    #    left, else the same schedule scaled down in phase length so that the networks still grow to full
    #    resolution (an AUC at 32x32 says more than one of a run stopped half-way); the summary says which
    est = next((p.get("schedule_minutes_est") for p in s.results["bench"].get("presets", [])
                if p.get("schedule_minutes_est")), None)
    avail = s.left() - reserve_eval - GRACE - 40
    if a.main_first:
        # the benchmark after the run is kept reserve_bench_b seconds (more if the run ends early)
        # no reserve for the benchmark after the run: the run ends when its schedule is done, and the benchmark gets
        # whatever is left then (the full schedule, the issue's acceptance, comes first)
        plan = {"phase_kimg": 600.0 if not a.smoke else 0.25, "reserve_bench_b": 0.0,
                "kind": "paper", "why": "the paper's schedule, started first (--main-first: its per-phase rates "
                                        "were measured by an earlier call); the benchmark runs after it"}
    else:
        plan = choose_schedule(est, avail, reserve_bench_b=0.0 if a.smoke else 100.0)
    s.results["schedule"] = plan
    s.say(f"schedule: {plan['why']}")

    # 6. the main training run, then 7. its evaluation
    s.results["evals"], s.results["train"] = {}, {}
    main_train += main_extra
    # named by the width it trains at (a --width in --main-extra wins over the 256 above: argparse keeps the last)
    widths = [main_train[j + 1] for j, v in enumerate(main_train[:-1]) if v == "--width"]
    main_name = (f"main-w{widths[-1] if widths else 256}-g{a.main_contamination:g}-s{a.main_seed}" if not a.smoke
                 else "main-smoke")
    runs = [(main_name, main_train)] + extra_runs
    for i, (name, targs) in enumerate(runs):
        # the margin covers the run's start (imports, decoding the data: --main-first has no separate data step) and
        # its final save: --minutes counts the training loop only. The H200 run took 498 s for a 464-s --minutes
        margin = 40.0
        spare = s.left() - reserve_eval - GRACE - margin - (0.0 if a.smoke else plan["reserve_bench_b"])
        if i == 0 and not a.smoke and spare < 150 and plan["reserve_bench_b"]:
            # the main run and its AUC are the deliverable; the second benchmark is optional (it runs only if time
            # is left): its reserve goes to the main run rather than shrinking it to seconds
            spare += plan["reserve_bench_b"]
            s.say("the main run gets the second benchmark's reserve (too little time left for both)")
        minutes = spare / 60 if i == 0 else min(1.5, spare / 60)
        if minutes < 0.5 and not a.smoke:
            s.say(f"skipping {name}: {s.left():.0f}s left")
            continue
        run_dir = work / name
        shutil.rmtree(run_dir, ignore_errors=True)
        # --no-train-scores: the evaluation does not need the training images' scores; device time is scarce
        # no periodic checkpoints: at width 256 each is ~200 MB (networks + Adam) with its checksum, ~20 of them
        # would eat a 1-2 minute budget; the stop at --minutes (or SIGTERM) still writes one and the final networks
        wildgan = [py, "-m", "wildgan"]
        # (WILDGAN_KERNELS=plain for every run and its evaluation where the pre-flight said so: a fault of the fused
        # kernels is the machine's, not one run's; or for a retry of the main run)
        kernels: dict[str, str] = dict(main_kernels)
        cmd = [*wildgan, "train", *data, *targs, *gp, "--seed", str(a.main_seed if i == 0 else 0),
               "--device", a.device,
               "--no-progress", "--no-train-scores", "--checkpoint-kimg", "100000", "--out", str(run_dir)]
        if i == 0 and not a.smoke and plan["phase_kimg"] != 600:
            cmd += ["--phase-kimg", f"{plan['phase_kimg']:g}"]
        # --minutes always (the smoke run too: the budget stop and an evaluation below full resolution are tested)
        cmd += ["--minutes", f"{minutes:.2f}" if not a.smoke else "0.05"]
        first = cmd
        if i == 0 and a.smoke_fail_main:           # the retry below, tested on the CPU
            first = [py, "-c", "import sys; sys.exit('smoke: the main run fails on purpose')"]
        rec = s.step(f"train {name}", first, minutes * 60 + 60 if not a.smoke else 120, env_extra=kernels or None)
        # rc 1 = an unexpected exception (rc 2 is wildgan's own error for bad options or data, which a rerun would
        # repeat; 128 + N a signal)
        if i == 0 and rec["rc"] == 1 and (a.smoke or rec["seconds"] < 150) and not kernels and \
                s.left() > reserve_eval + GRACE + margin + 60:
            # a crash early in the main run: most likely a CUDA path no CPU test can run (the fused kernels: G's pixel
            # norm as torch's RMS norm, the stddev's torch.var, the FlatWeights blocks, the merged real/fake critic
            # pass). Once more with each layer's own arithmetic and two critic passes (WILDGAN_KERNELS=plain), so the
            # call still brings an AUC; its evaluation too.
            s.results["main_retry"] = f"the main run failed (rc {rec['rc']}) after {rec['seconds']} s: rerun with " \
                                      "the plain kernels (WILDGAN_KERNELS=plain)"
            s.say(s.results["main_retry"])
            shutil.rmtree(run_dir, ignore_errors=True)
            minutes = (s.left() - reserve_eval - GRACE - margin) / 60
            cmd[cmd.index("--minutes") + 1] = f"{minutes:.2f}" if not a.smoke else "0.05"
            kernels = {"WILDGAN_KERNELS": "plain"}
            s.step(f"train {name} (plain kernels)", cmd, minutes * 60 + 60 if not a.smoke else 120,
                   env_extra=kernels)
        s.results["train"][name] = train_summary(run_dir)
        ev = out / f"{name}-eval.json"
        er = s.step(f"evaluate {name}", [*wildgan, "evaluate", str(run_dir), "--json", "--no-progress",
                                         "--device", a.device], reserve_eval - 10, stdout_to=ev,
                     env_extra=kernels)
        got = _read_json(ev, er) if er["rc"] == 0 else None
        if isinstance(got, dict):             # anything else would break every later summary (and its AUC table)
            s.results["evals"][name] = got
        ev.unlink(missing_ok=True)   # kept in results.json: the 8-file limit
        if i == 0:
            if (run_dir / "stats.jsonl").is_file():
                shutil.copyfile(run_dir / "stats.jsonl", out / "main-stats.jsonl")
            grids = sorted((run_dir / "samples").glob("fakes-*.png"))
            if grids:
                shutil.copyfile(grids[-1], out / "main-samples.png")
        s.write_summary()

    # 8. the rest of the benchmark (the paper's width 512 for the 40%-of-bf16 and 20k img/s scoring goals, and
    #    fast) with what is left; its rows join bench.json (written in WORK first: the 8-file limit)
    bench_runs = [bench_b] if bench_b and not a.smoke_until_eval else []
    if a.main_first and a.bench_res and not a.smoke:
        if a.gp_precision == "amp":
            # the GP's precision A/B at the main run's width (its stats.jsonl has the amp rates)
            bench_runs.append(["--preset", "paper:256", "--quick", "--res", a.bench_res, "--gp-precision", "fp32"])
        bench_runs.append(["--preset", "fast", "--quick"])
    for j, bargs in enumerate(bench_runs):
        if s.left() <= 45:
            break
        tmp = work / f"bench-b{j}.json"
        own_gp = [] if "--gp-precision" in bargs else gp
        rec = s.step(f"benchmark ({' '.join(bargs)})", [py, "benchmarks/bench.py", "--device", a.device, *bargs,
                                                       *own_gp, "--json", str(tmp)], s.left() - GRACE - 10)
        more = _read_json(tmp, rec)
        if more:
            s.results.setdefault("bench", {}).setdefault("presets", []).extend(more.get("presets", []))
            s.results["bench"].setdefault("ceiling", more.get("ceiling"))
            try:
                bench_json.write_text(json.dumps(s.results["bench"], indent=2, default=str), encoding="utf-8")
            except OSError as e:
                rec["error"] = str(e)
        s.write_summary()

    # 9. decoding image files with a pool of processes on this many-core host (the wildgan command's default,
    #    WILDGAN_DECODE_WORKERS=auto, against one process): last, only with time to spare; its table is the step's
    #    stdout (results.json, summary.md)
    if s.left() > 45 + GRACE and not a.smoke_until_eval:
        dec = ["--files", "2100", "--workers", "1,2"] if a.smoke else ["--data", a.data, "--workers", "1,auto"]
        s.step("decode benchmark", [py, "benchmarks/decode.py", *dec, "--repeat", "1"], min(90.0, s.left() - GRACE))

    s.say(f"done, {s.left():.0f}s of the budget left")
    print()
    try:
        print((out / "summary.md").read_text())
    except OSError as e:                   # every summary write failed: the steps' own files are still under $OUT
        print(f"(no summary.md to print: {e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
