"""Is a progress bar's ETA honest? Run a command under a pseudo-terminal (so its tqdm bars draw as for a user),
time-stamp every redraw, and compare the ETA shown at ~10/25/50/75% of the job with the time the job still took.

    python benchmarks/eta_audit.py --name train -- python -m wildgan train --preset tiny ... --out /tmp/x

The job's end is the last redraw of the last bar (what the ETA forecasts), not the process's exit (evaluation,
file writes after the bar closed). An ETA is the `eta=` postfix of `wildgan train` when present, else tqdm's
`<remaining` field. Prints one table row per fraction and writes the timestamped redraws to --log (JSON lines).

    python benchmarks/eta_audit.py --name replay --replay RUN_DIR

replays a finished `wildgan train` run instead: the training ETA (`wildgan.training.loop._eta`, of whichever wildgan
is on PYTHONPATH) at each row of its stats.jsonl, from that row's image count and time, against the time the run
still took. Every code then sees the same timings, which a live run on a shared machine cannot give twice. The rows
are 20 iterations apart, so the start of a resolution is placed by interpolating the rows' times at its image count.
The replay calls `_phase_costs(nc)` and `_eta(..., measured=segments, segment=, probe=)` as the loop does (the
probe's times read back from the run's log.txt, where a run of this wildgan on a CPU said them), so a wildgan from
before the fit over segments (`_phase_costs(nets, nc)`, `measured` a dict of whole resolutions) needs its own copy of
this script, as one from before fade-in iterations were counted apart (`_eta(cost, ..., ops=)`) does.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

_ETA_POSTFIX = re.compile(r"eta=(<?)([0-9:]+|\?)")
_TQDM_LEFT = re.compile(r"\[([0-9:]+)<([0-9:?]+)")
_ETA_TOTAL = re.compile(r"ETA total ~([0-9:]+)|study: about ([0-9:]+) left")


def seconds(text: str) -> float | None:
    """'1:02:03' / '02:03' -> seconds; '?' -> None."""
    if not text or "?" in text:
        return None
    out = 0.0
    for part in text.split(":"):
        out = out * 60 + float(part)
    return out


def parse_eta(line: str, total: bool = False) -> tuple[float | None, str] | None:
    """The ETA a bar line shows (seconds, and '<' when it is given as a bound), or None when it shows none; total:
    the time left for the whole job that a stage's bar says ("ETA total ~M:SS", f-AnoGAN's first stage) or a study's
    cell line ("(study: about M:SS left for N cells)")."""
    if total:
        m = _ETA_TOTAL.search(line)
        return None if m is None else (seconds(m.group(1) or m.group(2)), "~")
    m = _ETA_POSTFIX.search(line)
    if m:
        return seconds(m.group(2)), m.group(1)
    m = _TQDM_LEFT.search(line)
    if m:
        return seconds(m.group(2)), ""
    return None


def run(cmd: list[str], log: Path) -> list[tuple[float, str]]:
    """Run cmd on a pty; returns (seconds since start, redraw text) for every \\r/\\n-separated chunk."""
    master, slave = pty.openpty()
    # a pty made here has no size (0 columns), and tqdm's dynamic_ncols then draws an empty bar: give it a terminal's
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    os.set_blocking(master, False)
    env = dict(os.environ, COLUMNS="200")
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks: list[tuple[float, str]] = []
    buf = ""
    with log.open("w") as f:
        while True:
            r, _, _ = select.select([master], [], [], 0.2)
            data = b""
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
            if data:
                t = time.time() - t0
                buf += data.decode("utf-8", "replace")
                parts = re.split(r"[\r\n]", buf)
                buf = parts.pop()
                for p in parts:
                    if p.strip():
                        chunks.append((t, p))
                        f.write(json.dumps({"t": round(t, 2), "line": p}) + "\n")
                f.flush()
            elif proc.poll() is not None:
                break
    if buf.strip():
        chunks.append((time.time() - t0, buf))
    os.close(master)
    print(f"exit {proc.returncode} after {time.time() - t0:.1f} s", file=sys.stderr)
    return chunks


def table(chunks: list[tuple[float, str]], desc: str | None, fractions: list[float],
          total: bool = False) -> list[dict]:
    """ETA shown vs. time left, at each fraction of the job (from the bar's first to its last redraw). total: the
    "ETA total" of the bars (or study lines) that say one, at each fraction of their own span, against the job's
    last line of output (its end: a study's last cell is evaluated after its bar closed)."""
    bar = [(t, line) for t, line in chunks
           if (desc is None or line.lstrip().startswith(desc)) and parse_eta(line, total)]
    if not bar:
        return []
    start, end = bar[0][0], bar[-1][0]
    span = end - start
    if total:
        end = chunks[-1][0]
    rows = []
    for q in fractions:
        at = start + q * span
        shown = [(t, line) for t, line in bar if t <= at]
        t, line = shown[-1]
        eta, bound = parse_eta(line, total)  # type: ignore[misc]
        actual = end - t
        err = None if eta is None or actual <= 0 else 100.0 * (eta - actual) / actual
        rows.append({"fraction": q, "t": round(t, 1), "eta_shown": ("" if eta is None else bound + f"{eta:.0f}"),
                     "actual_left": round(actual, 1), "error_pct": None if err is None else round(err),
                     "line": line.strip()[:160]})
    return rows


_PROBE_LINE = re.compile(r"start-up probe took ([0-9. /]+) ms at ([0-9x /]+)")


def probe_times(run_dir: Path) -> dict[int, float]:
    """{resolution: seconds per iteration} of the ETA's start-up probe, as the run's log.txt says them (none: {},
    a run from before the probe or not on a CPU)."""
    log = run_dir / "log.txt"
    m = _PROBE_LINE.search(log.read_text(errors="replace")) if log.is_file() else None
    if m is None:
        return {}
    ms = [float(v) for v in m.group(1).split(" / ")]
    res = [int(v.split("x")[0]) for v in m.group(2).split(" / ")]
    return {r: t / 1000 for r, t in zip(res, ms)}


def replay(run_dir: Path) -> list[tuple[float, str]]:
    """(seconds since the first iteration, a bar-like line with `eta=` and `res=`) at each stats.jsonl row of a
    finished pGAN run, as `wildgan train` from its start (one session) would have shown them."""

    from wildgan import config
    from wildgan.training import loop
    from wildgan.training.schedule import lod_at

    if not (run_dir / "config.json").is_file() or not (run_dir / "stats.jsonl").is_file():
        raise SystemExit(f"{run_dir}: no config.json and stats.jsonl of a wildgan train run to replay")
    cfg = config.run_config_from_dict(json.loads((run_dir / "config.json").read_text()))
    nc, tc = cfg.net, cfg.train
    rows = [json.loads(x) for x in (run_dir / "stats.jsonl").read_text().splitlines() if x.strip()]
    if not rows:
        raise SystemExit(f"{run_dir / 'stats.jsonl'}: no rows to replay")
    costs = loop._phase_costs(nc)
    probe = probe_times(run_dir)
    nimgs = [round(r["kimg"] * 1000) for r in rows]
    times = [r["time"] for r in rows]
    t0 = times[0] - rows[0]["iters"] * rows[0]["batch"] / rows[0]["img_per_s"]     # the first iteration's start

    def time_at(n: int) -> float:
        """The time the run reached n images (interpolated between the rows around it)."""
        prev_n, prev_t = 0, t0
        for nn, tt in zip(nimgs, times):
            if nn >= n:
                return prev_t + (tt - prev_t) * (n - prev_n) / max(nn - prev_n, 1)
            prev_n, prev_t = nn, tt
        return times[-1]

    def res_at(n: int) -> int:
        return nc.resolution >> int(lod_at(n, nc.resolution, tc.phase_kimg, tc.fade_kimg))

    # where each resolution began: the first image count at which lod_at says it (the rows' own resolution field
    # changes at a round boundary, which the rows do not record)
    starts: dict[int, int] = {}
    # and where each segment (a resolution's fade-in, its stable phase) began, as the loop splits them
    segs: dict[tuple[int, bool], int] = {}
    step = min(tc.minibatch.values())
    for n in range(0, nimgs[-1] + 1, step):
        starts.setdefault(res_at(n), n)
        lod = lod_at(n, nc.resolution, tc.phase_kimg, tc.fade_kimg)
        segs.setdefault((res_at(n), lod != int(lod)), n)
    edges = sorted(segs.values())
    out = []
    for n, t in zip(nimgs, times):
        r = res_at(max(n - 1, 0))
        anchor = (r, starts[r], time_at(starts[r]))
        done = [e for e in edges if e <= n - 1]
        measured = [(a, b, time_at(b) - time_at(a)) for a, b in zip(done, done[1:])]
        eta = loop._eta(costs, nc, tc, 0, n, round(tc.total_kimg * 1000), t - t0, anchor=anchor, now=t,
                        measured=measured, segment=(done[-1], time_at(done[-1])),
                        **({"probe": probe} if probe else {}))
        out.append((t - t0, f"train {n / 1000:.2f}k [eta={eta}, res={r}]"))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True)
    p.add_argument("--desc", help="only bars whose line starts with this (e.g. 'train', 'score')")
    p.add_argument("--log", type=Path, help="timestamped redraws (default /tmp/eta-NAME.jsonl)")
    p.add_argument("--fractions", default="0.1,0.25,0.5,0.75")
    p.add_argument("--total", action="store_true", help="the bars' 'ETA total' against the end of the last bar")
    p.add_argument("--replay", type=Path, metavar="RUN_DIR", help="replay a finished train run's stats.jsonl")
    p.add_argument("--from-log", type=Path, metavar="LOG", help="read the redraws of an earlier run's --log again")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if a.replay is not None:
        chunks = replay(a.replay)
    elif a.from_log is not None:
        chunks = [(r["t"], r["line"]) for r in map(json.loads, a.from_log.read_text().splitlines()) if r]
    else:
        chunks = run(cmd, a.log or Path(f"/tmp/eta-{a.name}.jsonl"))
    for r in table(chunks, a.desc, [float(x) for x in a.fractions.split(",")], a.total):
        print(json.dumps({"name": a.name, **r}))


if __name__ == "__main__":
    main()
