"""Is a progress bar's ETA honest? Run a command under a pseudo-terminal (so its tqdm bars draw as for a user),
time-stamp every redraw, and compare the ETA shown at ~10/25/50/75% of the job with the time the job still took.

    python benchmarks/eta_audit.py --name train -- python -m wildgan train --preset tiny ... --out /tmp/x

The job's end is the last redraw of the last bar (what the ETA forecasts), not the process's exit (evaluation,
file writes after the bar closed). An ETA is the `eta=` postfix of `wildgan train` when present, else tqdm's
`<remaining` field. Prints one table row per fraction and writes the timestamped redraws to --log (JSON lines).
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


def seconds(text: str) -> float | None:
    """'1:02:03' / '02:03' -> seconds; '?' -> None."""
    if not text or "?" in text:
        return None
    out = 0.0
    for part in text.split(":"):
        out = out * 60 + float(part)
    return out


def parse_eta(line: str) -> tuple[float | None, str] | None:
    """The ETA a bar line shows (seconds, and '<' when it is given as a bound), or None when it shows none."""
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


def table(chunks: list[tuple[float, str]], desc: str | None, fractions: list[float]) -> list[dict]:
    """ETA shown vs. time left, at each fraction of the job (from the bar's first to its last redraw)."""
    bar = [(t, line) for t, line in chunks if (desc is None or line.lstrip().startswith(desc)) and parse_eta(line)]
    if not bar:
        return []
    start, end = bar[0][0], bar[-1][0]
    rows = []
    for q in fractions:
        at = start + q * (end - start)
        shown = [(t, line) for t, line in bar if t <= at]
        t, line = shown[-1]
        eta, bound = parse_eta(line)  # type: ignore[misc]
        actual = end - t
        err = None if eta is None or actual <= 0 else 100.0 * (eta - actual) / actual
        rows.append({"fraction": q, "t": round(t, 1), "eta_shown": ("" if eta is None else bound + f"{eta:.0f}"),
                     "actual_left": round(actual, 1), "error_pct": None if err is None else round(err),
                     "line": line.strip()[:160]})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True)
    p.add_argument("--desc", help="only bars whose line starts with this (e.g. 'train', 'score')")
    p.add_argument("--log", type=Path, help="timestamped redraws (default /tmp/eta-NAME.jsonl)")
    p.add_argument("--fractions", default="0.1,0.25,0.5,0.75")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    chunks = run(cmd, a.log or Path(f"/tmp/eta-{a.name}.jsonl"))
    for r in table(chunks, a.desc, [float(x) for x in a.fractions.split(",")]):
        print(json.dumps({"name": a.name, **r}))


if __name__ == "__main__":
    main()
