"""The one-call GPU session driver (benchmarks/gpu_session.py) must work the first time it meets a GPU: a session
gets ~15 minutes of device time, so a typo in the driver would waste it. Its --smoke mode runs every step on the
CPU (embedded MNIST, tiny preset) and must respect the device tool's limits on what comes back."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def test_gpu_session_smoke_runs_every_step_and_returns_few_files(tmp_path: Path) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "benchmarks/gpu_session.py", "--device", "cpu", "--smoke", "--out", str(out),
                        "--work", str(work), "--budget", "240"], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    files = sorted(f.relative_to(out) for f in out.rglob("*") if f.is_file())
    # the device tool returns at most 8 files, named in letters, digits, '.', '_' and '-'
    assert len(files) <= 8, files
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", str(f)) for f in files), files
    r = json.loads((out / "results.json").read_text())
    assert [s["rc"] for s in r["steps"]] == [0] * len(r["steps"]) and len(r["steps"]) == 6
    # the real pre-flight, end to end (benchmarks/cuda_preflight.py, its CPU wiring here; the other smoke runs skip it
    # or fail its first run on purpose): it passed, and the main run took the default kernels
    assert r["steps"][0]["name"] == "versions and pre-flight" and r["preflight"] == "passed"
    assert "pre-flight passed" in r["steps"][0]["stdout_tail"] and "env" not in r["steps"][2], r["steps"][2]
    assert {p["fmap_max"] for p in r["bench"]["presets"]} == {16, 32}       # bench A (main config) + bench B
    assert r["schedule"]["kind"] in ("paper", "scaled") and "schedule" in (out / "summary.md").read_text()
    assert r["bench"]["presets"][0]["phases"][-1]["img_per_s"] > 0
    ev = r["evals"]["main-smoke"]
    assert 0.0 <= ev["auc"]["a"] <= 1.0 and "untrained" in ev["controls"] and "pixel_norm" in ev["controls"]
    md = (out / "summary.md").read_text()
    assert "| main-smoke |" in md and "## Benchmark" in md
    # a's interval and paired tests came back in the evaluation and stand in the AUC table's last three cells
    lo, hi = ev["auc_ci95"]["a"]
    row = next(ln for ln in md.splitlines() if ln.startswith("| main-smoke |"))
    assert row.split(" | ")[-3] == f"{lo:.3f}-{hi:.3f}" and "p vs -std Q" in md, row
    # the decode benchmark: one process against a pool of 2 on the same pixels
    assert "## Decoding image files" in md and md.count("| yes |") == 2 and "| 2 | 2 | 2100 |" in md
    assert (out / "main-samples.png").stat().st_size > 0 and (out / "main-stats.jsonl").stat().st_size > 0


def test_gpu_session_refuses_missing_data(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "benchmarks/gpu_session.py", "--device", "cpu", "--data",
                        str(tmp_path / "no.tar"), "--out", str(tmp_path / "o"), "--work", str(tmp_path / "w")],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "no.tar" in p.stdout


def test_schedule_choice() -> None:
    """The paper's schedule when the benchmark's projection fits the time left; else shorter phases (the same
    growth to full resolution); the paper's with a --minutes stop when there is no projection."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from gpu_session import choose_schedule
    finally:
        sys.path.pop(0)
    fits = choose_schedule(5.0, 400.0)                       # 5 min * 1.15 + 30 s = 375 s <= 400 s
    assert fits["kind"] == "paper" and fits["phase_kimg"] == 600 and fits["reserve_bench_b"] == 0
    scaled = choose_schedule(20.0, 400.0, reserve_bench_b=100.0)
    assert scaled["kind"] == "scaled" and scaled["phase_kimg"] == int(600 * 270 / (20 * 60 * 1.15))
    # no projection (the benchmark stopped early): phases short enough to grow to 32x32, not 600 kimg at 4x4
    guessed = choose_schedule(None, 400.0)
    assert guessed["phase_kimg"] == 134 and guessed["kind"].startswith("guessed")
    assert choose_schedule(1000.0, 10.0)["phase_kimg"] >= 1


def _driver(tmp_path: Path, *args: str) -> tuple[Path, dict]:
    out, work = tmp_path / "out", tmp_path / "work"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "benchmarks/gpu_session.py", "--device", "cpu", "--smoke", "--out", str(out),
                        "--work", str(work), "--budget", "200", *args], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    files = sorted(f.relative_to(out) for f in out.rglob("*") if f.is_file())
    assert len(files) <= 8 and all(re.fullmatch(r"[A-Za-z0-9._-]+", str(f)) for f in files), files
    return out, json.loads((out / "results.json").read_text())


def test_gpu_session_main_first_without_the_preflight_prints_the_versions_and_trains_before_any_benchmark(
        tmp_path: Path) -> None:
    # the main run's first attempt fails on purpose (--smoke-fail-main): it is run again with the plain kernels
    # (WILDGAN_KERNELS=plain), and that run is the one evaluated. (No pre-flight: its seconds are not this test's;
    # the full smoke run above runs it end to end. --no-preflight: the pre-flight's seconds stay the main run's
    # --minutes, which had ~30 s to spare on 2026-11-30; its step prints the versions only. A main run that passes
    # at once, with no env of its own, is the full smoke run's; this run had its own driver call before, whose
    # checks are all here.)
    out, r = _driver(tmp_path, "--main-first", "--gp-precision", "amp", "--smoke-fail-main", "--main-seed", "3",
                     "--main-extra", "--lr 0.0015", "--no-preflight")
    names = [s["name"] for s in r["steps"]]
    assert names[:4] == ["versions", "train main-smoke", "train main-smoke (plain kernels)",
                         "evaluate main-smoke"], names
    # (the main run's first attempt took the default kernels)
    assert r["preflight"] == "skipped (--no-preflight)" and r["steps"][1]["rc"] == 1 and "env" not in r["steps"][1]
    assert r["preflight"] in (out / "summary.md").read_text()
    assert r["steps"][0]["stdout_tail"].startswith("2.") and "pre-flight" not in r["steps"][0]["stdout_tail"]
    ev = r["steps"][3]                        # the evaluation runs the same (plain) G forward as the retried run
    assert ev["env"] == {"WILDGAN_KERNELS": "plain"} and ev["cmd"][1:4] == ["-m", "wildgan", "evaluate"]
    assert [s["rc"] for s in r["steps"][2:]] == [0] * (len(r["steps"]) - 2)
    retry = r["steps"][2]["cmd"]
    assert r["steps"][2]["env"] == {"WILDGAN_KERNELS": "plain"}
    assert retry[1:4] == ["-m", "wildgan", "train"] and "--gp-precision" in retry
    assert retry[retry.index("--seed") + 1] == "3" and retry[retry.index("--lr") + 1] == "0.0015"
    assert "WILDGAN_KERNELS=plain" in r["main_retry"] and "WILDGAN_KERNELS=plain" in (out / "summary.md").read_text()
    assert r["bench"]["presets"][0]["fast_options"]["gp_precision"] == "amp"
    assert "main-smoke" in r["evals"]


def test_gpu_session_gives_the_main_run_the_plain_kernels_where_only_they_pass_the_preflight(tmp_path: Path) -> None:
    # the pre-flight's first run fails on purpose (--smoke-fail-preflight) and its run with WILDGAN_KERNELS=plain
    # passes: the main run and its evaluation take the plain kernels from the start, and no retry of the run follows
    # (--smoke-until-eval: the benchmark and the decoding after the evaluation are the --main-first test's)
    out, r = _driver(tmp_path, "--main-first", "--smoke-fail-preflight", "--smoke-until-eval")
    names = [s["name"] for s in r["steps"]]
    assert names == ["versions and pre-flight", "pre-flight (plain kernels)", "train main-smoke",
                     "evaluate main-smoke"], names
    first, again, train, ev = r["steps"][:4]
    assert first["rc"] == 1 and again["rc"] == 0 and again["env"] == {"WILDGAN_KERNELS": "plain"}
    assert "pre-flight passed" in again["stdout_tail"] and "kernels plain" in again["stdout_tail"]
    assert train["env"] == ev["env"] == {"WILDGAN_KERNELS": "plain"} and train["rc"] == ev["rc"] == 0
    assert "WILDGAN_KERNELS=plain" in r["preflight"] and r["preflight"] in (out / "summary.md").read_text()
    assert "main_retry" not in r and "main-smoke" in r["evals"]


def _gpu_session() -> Any:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gpu_session as gs
    finally:
        sys.path.pop(0)
    return gs


def _played(tmp_path: Path, *outcomes: dict) -> tuple[dict, list, dict]:
    """gpu_session.preflight with its steps played (no subprocess): the n-th step asked gets outcomes[n]; returns the
    kernels it gives the main run, the steps asked (name, env) and the session's results."""
    import argparse

    gs = _gpu_session()
    s = gs.Session(tmp_path / "out", tmp_path / "work", 100.0)
    asked: list = []

    def step(name, cmd, timeout, stdout_to=None, env_extra=None):
        asked.append((name, env_extra))
        assert len(asked) <= len(outcomes), f"a step more than played: {asked}"
        return dict(outcomes[len(asked) - 1], name=name)

    s.step = step
    kernels = gs.preflight(s, argparse.Namespace(smoke_fail_preflight=False), sys.executable, ["preflight"])
    return kernels, asked, s.results


AT = "ok setup (1.0 s): ...\nFAILED {0} after 0.1 s:\nTraceback ...\npre-flight FAILED at {0} (2.0 s, kernels auto)"
PASSED = {"rc": 0, "stdout_tail": "pre-flight passed (2.0 s, kernels plain)"}


def _mismatch(check: str) -> dict:
    # (cuda_preflight's last line after a mismatch: tests/unit/training/test_cuda_branches_on_cpu.py ties it to this
    # file)
    return {"rc": 1, "stdout_tail": AT.format(check) + ": a mismatch beyond a tolerance, which may not repeat"}


def test_the_preflight_is_run_again_with_the_plain_kernels_only_where_they_may_change_it(tmp_path: Path) -> None:
    """gpu_session.preflight's branches, its steps played (no subprocess): a failure in the training or scoring check,
    or a death without a word (a CUDA fault's abort), is run again with WILDGAN_KERNELS=plain, whose pass gives the
    main run the plain kernels; a timeout (a hang), or a failure at a check that runs none of those kernels (setup,
    data, rng), is not: the rerun's up to 60 s would be the main run's, for the same outcome."""
    at, ok = AT, PASSED
    for first in ({"rc": 1, "stdout_tail": at.format("training")}, {"rc": 1, "stdout_tail": at.format("scoring")},
                  {"rc": -6, "stdout_tail": "ok setup (1.0 s): ...\n"}):
        kernels, asked, results = _played(tmp_path, first, ok)
        assert kernels == {"WILDGAN_KERNELS": "plain"} and len(asked) == 2, (first, asked)
        assert asked[1] == ("pre-flight (plain kernels)", {"WILDGAN_KERNELS": "plain"})
        assert "the main run and its evaluation use WILDGAN_KERNELS=plain" in results["preflight"]
    kernels, asked, results = _played(tmp_path, {"rc": 1, "stdout_tail": at.format("training")},
                                      {"rc": 1, "stdout_tail": ""})
    assert kernels == {} and len(asked) == 2 and "failed with the fused and the plain kernels" in results["preflight"]
    for first, why in (({"rc": "timeout", "stdout_tail": "ok setup (1.0 s): ...\n"}, "ran past its timeout"),
                       ({"rc": 1, "stdout_tail": at.format("data")}, "failed at its data check"),
                       ({"rc": 1, "stdout_tail": at.format("rng")}, "failed at its rng check"),
                       ({"rc": 1, "stdout_tail": at.format("setup")}, "failed at its setup check"),
                       # (the process died after the check's line, before its last)
                       ({"rc": 1, "stdout_tail": at.format("data").rsplit("\n", 1)[0]}, "failed at its data check")):
        kernels, asked, results = _played(tmp_path, first)
        assert kernels == {} and len(asked) == 1, (first, asked)
        assert why in results["preflight"] and "the main run goes as it is" in results["preflight"], results


def test_a_mismatch_is_tried_again_with_the_fused_kernels_before_the_plain_ones(tmp_path: Path) -> None:
    """One mismatch beyond a tolerance (numerical noise just over it, a nondeterministic capture) must not cost the
    main run its fused kernels: the pre-flight runs once more with them, and the plain kernels are tried only after a
    second failure. A crash (a CUDA error, a death without a last line) is not tried again with the fused kernels."""
    again = ("pre-flight (fused kernels, second try)", None)
    plain = ("pre-flight (plain kernels)", {"WILDGAN_KERNELS": "plain"})
    for check in ("training", "scoring"):
        # fail, then pass: the fused kernels stay
        kernels, asked, results = _played(tmp_path, _mismatch(check), PASSED)
        assert kernels == {} and asked[1:] == [again], asked
        assert "failed once with the fused kernels (a mismatch" in results["preflight"], results
        assert "passed at a second try" in results["preflight"] and "keep the fused kernels" in results["preflight"]
    # fail twice (a mismatch, then a mismatch or a crash), the plain kernels pass: the plain kernels
    for second in (_mismatch("scoring"), {"rc": -6, "stdout_tail": "ok setup (1.0 s): ...\n"}):
        kernels, asked, results = _played(tmp_path, _mismatch("training"), second, PASSED)
        assert kernels == {"WILDGAN_KERNELS": "plain"} and asked[1:] == [again, plain], asked
        assert f"fused kernels (twice: a mismatch, then rc {second['rc']})" in results["preflight"], results
        assert "the main run and its evaluation use WILDGAN_KERNELS=plain" in results["preflight"]
    # fail twice and with the plain kernels: the main run as it is
    kernels, asked, results = _played(tmp_path, _mismatch("training"), _mismatch("training"), {"rc": 1})
    assert kernels == {} and asked[1:] == [again, plain], asked
    assert "failed with the fused and the plain kernels (fused twice: a mismatch, then rc 1" in results["preflight"]
    # a second failure the plain kernels cannot change (a hang): no plain run
    kernels, asked, results = _played(tmp_path, _mismatch("scoring"), {"rc": "timeout", "stdout_tail": ""})
    assert kernels == {} and asked[1:] == [again], asked
    assert "failed twice with the fused kernels" in results["preflight"] and "ran past its timeout" in \
        results["preflight"] and "the main run goes as it is" in results["preflight"], results
    # a crash: a CUDA error in the training check (its last line says no mismatch), or a death without a last line,
    # goes to the plain kernels at once
    cuda_error = {"rc": 1, "stdout_tail": AT.format("training").replace(
        "Traceback ...", "Traceback ...\ntorch.AcceleratorError: CUDA error: an illegal memory access was encountered")}
    for crash in (cuda_error, {"rc": -6, "stdout_tail": "ok setup (1.0 s): ...\n"},
                  # (a mismatch's words with another exit status: a death after the line, not a check's failure)
                  dict(_mismatch("training"), rc=-11)):
        kernels, asked, results = _played(tmp_path, crash, PASSED)
        assert kernels == {"WILDGAN_KERNELS": "plain"} and asked[1:] == [plain], (crash, asked)
        assert f"(rc {crash['rc']}: not a mismatch, so not tried again with them)" in results["preflight"], results


def test_gpu_session_probe_runs_the_ab_rows_and_profiles(tmp_path: Path) -> None:
    out, r = _driver(tmp_path, "--probe")
    # versions, as is, layer weights, separate critic, plain stddev, 4x4 plain norm, every phase, profile, CUDA tests
    # (they skip on the CPU; no compile here)
    assert [s["rc"] for s in r["steps"]] == [0] * 9, r["steps"]
    assert r["steps"][8]["name"] == "fast-path tests (cuda)"
    presets = r["bench"]["presets"]
    assert [p["variant"] for p in presets] == ["as is", "layer weights", "separate critic", "plain stddev",
                                               "4x4 plain norm", "width 512"]
    assert [p["fast_options"]["critic_pass"] for p in presets] == ["merged", "merged", "separate", "merged", "merged",
                                                                   "merged"]
    # (flat on CUDA only unless asked: rows 1 and 4 ask, as the probe is run on CUDA)
    assert [p["fast_options"]["weights"] for p in presets] == ["flat", "per layer", "per layer", "flat", "per layer",
                                                               "per layer"]
    assert [p["fast_options"]["plain_pixel_norm_forced"] for p in presets] == [False] * 4 + [True, False]
    # (the variance kernel is CUDA's: the CPU runs the formula in every row)
    assert all(p["fast_options"]["stddev_variance"] == "plain" for p in presets)
    assert all({ph["res"] for ph in p["phases"]} == {4, 8, 32} for p in presets[:3])
    assert {ph["res"] for ph in presets[3]["phases"]} == {4, 8}
    assert {ph["res"] for ph in presets[4]["phases"]} == {4}
    assert {ph["res"] for ph in presets[5]["phases"]} == {4, 8, 16, 32}      # every phase: the schedule projection
    assert presets[5]["schedule_minutes_est"] > 0
    # one ceiling for every row's "% ceiling", the first row's, which summary.md names (each row measured its own)
    ceiling = r["bench"]["ceiling"]["tflops"]
    assert all(abs(ph["tflops"] / ph["frac_ceiling"] / ceiling - 1) < 1e-9 for p in presets for ph in p["phases"])
    benches = [st["cmd"] for st in r["steps"] if st["name"].startswith("benchmark (")]
    assert "--ceiling-from" not in benches[0] and all("--ceiling-from" in c for c in benches[1:]), benches
    assert all(not p["score"] for p in presets)                   # --no-score: training rows only
    assert all(ph["warmup_s"] > 0 for p in presets for ph in p["phases"])
    md = (out / "summary.md").read_text()
    assert "| tiny separate critic |" in md and "| tiny 4x4 plain norm |" in md and "| tiny layer weights |" in md
    assert "## Kernel profile" in md
    import csv

    with open(out / "profile.csv", newline="") as f:
        rows = list(csv.DictReader(f))            # CUDA kernel names hold commas: read it as CSV
    assert rows and {row["phase"] for row in rows} == {"8x8 stable"}
    by_name = {row["kernel"]: row for row in rows}
    # the iteration's convolutions are there, with time and calls: the table is about the real training step
    conv = [row for k, row in by_name.items() if "convolution" in k]
    assert conv and all(float(row["ms_per_iter"]) > 0 and float(row["calls_per_iter"]) >= 1 for row in conv)
    assert float(rows[0]["ms_per_iter"]) >= float(rows[-1]["ms_per_iter"])    # ranked by time


def test_the_preflight_checks_the_width_main_extra_gives_the_main_run() -> None:
    # (a --main-extra "--width 512" call checked the kernels and memory of width 256 only)
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gpu_session as gs
    finally:
        sys.path.pop(0)
    assert gs.extra_width([]) is None and gs.extra_width(["--lr", "0.0015"]) is None
    assert gs.extra_width(["--width", "512"]) == "512" and gs.extra_width(["--width=128"]) == "128"
    assert gs.extra_width(["--width", "512", "--lr", "1", "--width=64"]) == "64"     # (argparse keeps the last)
    assert gs.extra_width(["--width"]) is None


def test_bench_takes_an_earlier_ceiling_of_the_same_device_only(tmp_path: Path) -> None:
    # (--probe's later rows take the first row's ceiling: one of another device, or a file without one, is refused
    # naming the file, not used as a denominator)
    import pytest

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench
    finally:
        sys.path.pop(0)
    ceiling = {"n": 1024, "dtype": "float32", "tflops": 0.16}
    earlier = tmp_path / "bench-as-is.json"
    earlier.write_text(json.dumps({"machine": {"device_name": "NVIDIA H200"}, "ceiling": ceiling}))
    assert bench.earlier_ceiling(str(earlier), "NVIDIA H200") == ceiling
    with pytest.raises(SystemExit, match=r"--ceiling-from .*bench-as-is\.json: measured on 'NVIDIA H200', not on "
                                         r"this device \('x86_64'\)"):
        bench.earlier_ceiling(str(earlier), "x86_64")
    earlier.write_text(json.dumps({"machine": {"device_name": "NVIDIA H200"}, "presets": []}))
    with pytest.raises(SystemExit, match=r"bench-as-is\.json: no ceiling of an earlier bench\.py --json there"):
        bench.earlier_ceiling(str(earlier), "NVIDIA H200")
    with pytest.raises(SystemExit, match=r"no\.json: no ceiling"):
        bench.earlier_ceiling(str(tmp_path / "no.json"), "NVIDIA H200")
