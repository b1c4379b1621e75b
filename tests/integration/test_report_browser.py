"""The HTML report renders in a real headless Chromium (Debian's `chromium` package): every image decodes (the page's
own script counts broken ones into <body data-broken-images>) and a screenshot is not blank.

Skipped when no Chromium is installed; .ci/run installs it with `apt-get install -y chromium`.
Set WILDGAN_CHROMIUM to use another Chromium/Chrome binary."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny_report import build_tiny_report

CHROMIUM = (os.environ.get("WILDGAN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
            or shutil.which("google-chrome"))
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(CHROMIUM is None, reason="headless browser test needs Chromium: "
                                                          "apt-get install -y chromium (or set WILDGAN_CHROMIUM)")]
WIDTH, HEIGHT = 1280, 2000


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # (the same run directory as test_report's tiny_run, in the session's basetemp: one training when both run)
    return build_tiny_report(tmp_path_factory)


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    # offline and quiet: no first-run UI, no network services, a throwaway profile; --no-sandbox because CI runs
    # as root, where Chromium's sandbox refuses to start
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _render(html_path: Path, tmp: Path) -> tuple[dict[str, str], np.ndarray]:
    """(<body> data attributes after the load event, screenshot as a gray array)."""
    url = html_path.resolve().as_uri()
    # virtual time lets the page finish loading and run its load handler before the DOM is dumped
    dom = _chromium(["--virtual-time-budget=10000", "--dump-dom", url], tmp / "profile-dom")
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body, f"no DOM from chromium (rc {dom.returncode}): {dom.stderr[-2000:]}"
    attrs = dict(re.findall(r'data-([\w-]+)="([^"]*)"', body.group(1)))
    shot = tmp / "shot.png"
    r = _chromium([f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", url], tmp / "profile-shot")
    assert shot.is_file(), f"chromium wrote no screenshot (rc {r.returncode}): {r.stderr[-2000:]}"
    with Image.open(shot) as im:
        assert im.size == (WIDTH, HEIGHT)
        pixels = np.asarray(im.convert("L"), dtype=np.float64)
    return attrs, pixels


def _check(html_path: Path, tmp: Path) -> None:
    n_img = len(re.findall(r"<img ", html_path.read_text()))
    attrs, pixels = _render(html_path, tmp)
    assert attrs.get("broken-images") == "0", f"broken images in the rendered page: {attrs}"
    assert attrs.get("images-total") == str(n_img) and n_img > 0
    # a white page has std ~0; text, tables and figures give a clearly textured screenshot
    assert pixels.std() > 15.0, f"screenshot looks blank (pixel std {pixels.std():.1f})"
    assert (pixels < 200).mean() > 0.005, "screenshot has almost no dark pixels (no text or figures drawn)"


def test_run_report_renders_in_chromium(tiny_run: Path, tmp_path: Path) -> None:
    _check(tiny_run / "report" / "report.html", tmp_path)


def test_study_report_renders_in_chromium(tiny_run: Path, tmp_path: Path) -> None:
    from wildgan.evaluation.report import report

    study = tmp_path / "study"
    study.mkdir()
    # whole rows (every field the study's tables read): the report lists only those
    rows = [{"cell": f"g{g}_s{s}", "normal": "0", "gamma": g, "method": "wildgan", "encoder_loss": "image", "seed": s,
             "auc": {"a": 0.7 - g + 0.01 * s}, "ap": {}, "controls": {"untrained": {}}}
            for g in (0.0, 0.05, 0.1) for s in (0, 1)]
    (study / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (study / "tables.md").write_text("## Table 1\n\n| loss | a |\n|---|---|\n| image | 0.70 ± 0.01 |\n")
    _check(report(study), tmp_path)
