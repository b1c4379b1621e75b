"""ONNX export: onnxruntime reproduces PyTorch's isolated-mode scores on real images (the embedded MNIST sample).

Skipped cleanly when onnx / onnxruntime are not installed (pip install 'wildgan[onnx]')."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from wildgan.detector import Detector, to_images  # noqa: E402
from wildgan.errors import ConfigError  # noqa: E402
from wildgan.export import export_onnx, onnx_metadata  # noqa: E402
from wildgan.scoring.pgan_scores import score_pgan  # noqa: E402
from wildgan.scoring.run import load_model  # noqa: E402

SCORES = ("a", "L_n", "L_o", "L_r", "A")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run_dir(mnist, tmp_path_factory):
    run = tmp_path_factory.mktemp("export") / "run"
    x = mnist["x_train"][mnist["y_train"] == 0][:64]
    Detector(preset="tiny", total_kimg=0.5, phase_kimg=0.1, resolution=16, device="cpu", run_dir=str(run)).fit(x)
    return run


@pytest.fixture(scope="module")
def real_images(mnist) -> np.ndarray:
    # 100 real test digits of every class, converted exactly like the training images
    return to_images(mnist["x_test"][::20][:100], 16, 1)[0]


def _run(path, x: np.ndarray) -> dict[str, np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"images": x})))


def _max_rel(a: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    diff = float(np.abs(a - ref).max())
    return diff, diff / max(float(np.abs(ref).max()), 1e-12)


def test_onnx_parity_with_pytorch_on_real_images(run_dir, real_images, tmp_path) -> None:
    path = export_onnx(run_dir, tmp_path / "wildgan.onnx", batch_size=64)
    ref = load_model(run_dir, "cpu").score(real_images, batch_mode="isolated")   # the same protocol as the graph
    worst = 0.0
    for batch in (real_images, real_images[:1], real_images[:7]):                # dynamic batch, any size
        out = _run(path, batch)
        for k in SCORES:
            diff, rel = _max_rel(out[k], ref.scores[k][: len(batch)])
            worst = max(worst, diff)
            print(f"ONNX vs PyTorch, N={len(batch):3d}, {k:>3}: max abs diff {diff:.3g} (relative {rel:.3g})")
            assert rel < 1e-4, k
        assert _max_rel(out["z"], ref.z[: len(batch)])[1] < 1e-4
    print(f"ONNX max abs difference over all scores: {worst:.3g}")
    meta = onnx_metadata(path)
    assert meta["batch_mode"] == "isolated" and meta["resolution"] == "16" and meta["input_type"] == "uint8"


def test_onnx_float_input_without_A(run_dir, real_images, tmp_path) -> None:
    path = export_onnx(run_dir, tmp_path / "f.onnx", batch_size=4, input_type="float", include_A=False)
    xf = (real_images.transpose(0, 3, 1, 2).astype(np.float32) * (2.0 / 255.0) - 1.0)
    out = _run(path, xf[:10])
    assert "A" not in out
    ref = load_model(run_dir, "cpu").score(real_images[:10], batch_mode="isolated")
    for k in ("a", "L_n", "L_o", "L_r"):
        assert _max_rel(out[k], ref.scores[k])[1] < 1e-4, k


def test_export_matches_isolated_detector(run_dir, real_images, tmp_path) -> None:
    path = export_onnx(run_dir, tmp_path / "d.onnx")
    det = Detector.from_run(run_dir, batch_mode="isolated", device="cpu")
    np.testing.assert_allclose(_run(path, real_images)["a"], det.decision_function(real_images), rtol=0, atol=1e-5)


def test_export_refuses_bad_arguments(run_dir, tmp_path) -> None:
    with pytest.raises(ConfigError):
        export_onnx(run_dir, tmp_path / "x.onnx", input_type="int16")
    with pytest.raises(ConfigError):
        export_onnx(run_dir, tmp_path / "x.onnx", batch_size=0)
    for opset in (5, 7, 8, 24, 99):     # (torch's exporter raised its own traceback, after tracing)
        with pytest.raises(ConfigError, match=rf"opset must be an ONNX opset this torch exports for the scoring graph, "
                                              rf"9 to 23; got {opset}"):
            export_onnx(run_dir, tmp_path / "x.onnx", opset=opset)
    import os

    with pytest.raises(ConfigError, match="not a regular file"):      # (renamed over: /dev/full became a file)
        export_onnx(run_dir, os.devnull)
    assert not (tmp_path / "x.onnx").exists()


def test_export_without_onnx_says_which_extra_to_install(run_dir, tmp_path, monkeypatch) -> None:
    # torch's exporter fails with its own OnnxExporterError (a RuntimeError) without onnx: named up front instead
    import importlib.util

    from wildgan.errors import WildganError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    with pytest.raises(WildganError, match=r"needs the 'onnx' package: pip install 'wildgan\[onnx\]'"):
        export_onnx(run_dir, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


# ------------------------------------------------------------------------------------------ level of detail (lod)
def _run_at_lod(root, lod: float, channels: int = 1):
    """A run directory whose networks stopped growing at `lod` (as a short / budgeted / interrupted run does): the
    config of a tiny 16x16 MNIST run (gray, or `channels` 3) and its untrained networks (seeded), checkpointed with
    meta lod = `lod`. No training: the parity below holds for any weights, and untrained top layers make lod 0 scores
    very different."""
    from wildgan import checkpoint as ckpt
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, to_dict, write_run_config
    from wildgan.nets import build_pgan

    run = root / f"lod{lod}-c{channels}"
    run.mkdir()
    net = net_config_for_preset("tiny", 16, channels)
    cfg = RunConfig(data=DataConfig(dataset="mnist", normal=("1",), resolution=16, channels=channels), net=net,
                    train=TrainConfig(total_kimg=1.0, phase_kimg=0.3), preset="tiny")
    write_run_config(cfg, run)
    nets = build_pgan(net, 3)
    ckpt.save_checkpoint(run, "network-final", ckpt.networks_to_tensors(nets.modules()),
                         {"kind": ckpt.NETWORKS_KIND, "net": to_dict(net), "lod": lod})
    return run


@pytest.mark.parametrize("lod", [0.5, 1.0, 1.75])
def test_onnx_at_run_lod_matches_isolated_scoring(lod, real_images, tmp_path) -> None:
    """A run that stopped at lod > 0 is scored at that lod (queries reduced by at_lod, fade-in blends); the exported
    graph must compute the same scores, not those of the untrained full-resolution layers (lod 0)."""
    run = _run_at_lod(tmp_path, lod)
    x = real_images[:24]
    path = export_onnx(run, tmp_path / "lod.onnx", batch_size=4)
    model = load_model(run, "cpu")
    assert model.lod == lod
    ref = model.score(x, batch_mode="isolated")
    at_lod0 = score_pgan(model.nets, x, model.cfg.score, batch_mode="isolated", lod=0.0)
    for batch in (x, x[:1], x[:5]):
        out = _run(path, batch)
        for k in SCORES:
            assert _max_rel(out[k], ref.scores[k][: len(batch)])[1] < 1e-4, (k, lod)
        assert _max_rel(out["z"], ref.z[: len(batch)])[1] < 1e-4
    assert float(onnx_metadata(path)["lod"]) == lod
    # the test tells the two apart: at lod 0 these untrained networks score very differently
    assert _max_rel(at_lod0.scores["L_r"], ref.scores["L_r"])[1] > 0.05
    det = Detector.from_run(run, batch_mode="isolated", device="cpu")
    np.testing.assert_allclose(_run(path, x)["a"], det.decision_function(x), rtol=1e-4, atol=1e-6)
    if lod == 0.5:  # float input, no A: the same reduction of the full-resolution input
        pf = export_onnx(run, tmp_path / "lodf.onnx", batch_size=2, input_type="float", include_A=False)
        xf = x.transpose(0, 3, 1, 2).astype(np.float32) * (2.0 / 255.0) - 1.0
        outf = _run(pf, xf)
        for k in ("a", "L_n", "L_o", "L_r"):
            assert _max_rel(outf[k], ref.scores[k])[1] < 1e-4, k


@pytest.mark.parametrize("lod", [0.0, 1.75])
def test_onnx_at_the_lowest_opset_colour_images(lod, mnist, tmp_path) -> None:
    """Opset 9, the lowest the graph can be written in (7 and 8 are refused before tracing), on a 3-channel run,
    at full resolution and at a fractional lod (box reduction and fade-in): the same scores as isolated scoring."""
    run = _run_at_lod(tmp_path, lod, channels=3)
    x = to_images(mnist["x_test"][::50][:12], 16, 3)[0]
    assert x.shape[-1] == 3
    path = export_onnx(run, tmp_path / "op9.onnx", batch_size=2, opset=9)
    ref = load_model(run, "cpu").score(x, batch_mode="isolated")
    for batch in (x, x[:1]):
        out = _run(path, batch)
        for k in SCORES:
            assert _max_rel(out[k], ref.scores[k][: len(batch)])[1] < 1e-4, (k, lod)


@pytest.mark.parametrize("lod", [0.0, 0.5])
def test_an_empty_batch_gives_empty_outputs(lod, tmp_path) -> None:
    """N = 0 images in, every output empty out (the batch axis is dynamic). Before, onnxruntime stopped in E's
    minibatch stddev with 'Integer division by zero' (the traced n // n), then in G's Reshape."""
    run = _run_at_lod(tmp_path, lod)
    for input_type, A in (("uint8", True), ("float", False)):
        path = export_onnx(run, tmp_path / f"{input_type}.onnx", batch_size=3, input_type=input_type, include_A=A)
        empty = (np.zeros((0, 16, 16, 1), np.uint8) if input_type == "uint8" else np.zeros((0, 1, 16, 16), np.float32))
        out = _run(path, empty)
        assert set(out) == set(SCORES if A else SCORES[:-1]) | {"z"}
        for k, v in out.items():
            assert v.shape == ((0, load_model(run, "cpu").cfg.net.latent_size) if k == "z" else (0,)), k
            assert v.dtype == np.float32, k


def test_scoring_graph_refuses_lod_out_of_range() -> None:
    from wildgan.config import net_config_for_preset
    from wildgan.export import ScoringGraph
    from wildgan.nets import build_pgan

    nets = build_pgan(net_config_for_preset("tiny", 16, 1), 0)
    for bad in (-0.5, 2.5, float("nan")):
        with pytest.raises(ConfigError):
            ScoringGraph(nets.E, nets.Gs, nets.D, 0.05, 1.0, lod=bad)
    assert ScoringGraph(nets.E, nets.Gs, None, 0.05, 1.0, lod=2.0).lod == 2.0   # 4x4: the first level


# ------------------------------------------------------------------------------------------------------- f-AnoGAN
@pytest.fixture(scope="module")
def fanogan_run(tmp_path_factory):
    """A briefly trained f-AnoGAN run (32x32 gray, dim 8): its BatchNorms have moved off their initial statistics,
    so the test sees whether the graph uses the running statistics as `wildgan score` does."""
    from wildgan.config import DataConfig, FAnoGANConfig, RunConfig, TrainConfig, net_config_for_preset
    from wildgan.config import write_run_config
    from wildgan.training.fanogan_loop import train_fanogan

    run = tmp_path_factory.mktemp("fanogan") / "run"
    fan = FAnoGANConfig(dim=8, latent_size=16, batch_size=8, enc_batch_size=8, gan_iters=8, enc_iters=6,
                        device="cpu", seed=1)
    cfg = RunConfig(data=DataConfig(dataset="mnist", normal=("1",), resolution=32, channels=1),
                    net=net_config_for_preset("tiny", 32, 1), train=TrainConfig(total_kimg=0.1), preset="tiny",
                    method="fanogan", fanogan=fan)
    write_run_config(cfg, run)
    x = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 1), dtype=np.uint8)
    train_fanogan(x, fan, run, progress=False)
    return run


def test_fanogan_onnx_equals_wildgan_score(fanogan_run, mnist, tmp_path) -> None:
    x = to_images(mnist["x_test"][::25][:40], 32, 1)[0]
    path = export_onnx(fanogan_run, tmp_path / "fan.onnx", batch_size=8)
    model = load_model(fanogan_run, "cpu")
    ref = model.score(x)
    assert any(float(m.running_var.mean()) != 1.0 for m in model.nets.E.modules()
               if isinstance(m, torch.nn.BatchNorm2d))                    # trained statistics, not the initial ones
    for batch in (x, x[:1], x[:3]):
        out = _run(path, batch)
        for k in SCORES:
            assert _max_rel(out[k], ref.scores[k][: len(batch)])[1] < 1e-4, k
        assert _max_rel(out["z"], ref.z[: len(batch)])[1] < 1e-4
        assert np.abs(out["z"]).max() <= 1 + 1e-6                           # tanh codes (saturate in fp32)
    meta = onnx_metadata(path)
    assert meta["method"] == "fanogan" and meta["batch_mode"] == "independent" and meta["lod"] == "0.0"
    noA = _run(export_onnx(fanogan_run, tmp_path / "fan_noA.onnx", input_type="float", include_A=False),
               x[:5].transpose(0, 3, 1, 2).astype(np.float32) * (2.0 / 255.0) - 1.0)
    assert "A" not in noA
    np.testing.assert_allclose(noA["a"], ref.scores["a"][:5], rtol=1e-4, atol=1e-6)


def test_fanogan_onnx_empty_batch_gives_empty_outputs(fanogan_run, tmp_path) -> None:
    out = _run(export_onnx(fanogan_run, tmp_path / "fan.onnx", batch_size=2), np.zeros((0, 32, 32, 1), np.uint8))
    assert {k: v.shape for k, v in out.items()} == {**{k: (0,) for k in SCORES}, "z": (0, 16)}


def test_export_refuses_a_latent_search_run(tmp_path) -> None:
    from wildgan import checkpoint as ckpt
    from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset, to_dict, write_run_config
    from wildgan.nets import build_pgan

    run = tmp_path / "search"
    net = net_config_for_preset("tiny", 16, 1)
    write_run_config(RunConfig(data=DataConfig(dataset="mnist", normal=("1",), resolution=16, channels=1), net=net,
                               train=TrainConfig(total_kimg=1.0), preset="tiny", method="search"), run)
    ckpt.save_checkpoint(run, "network-final", ckpt.networks_to_tensors(build_pgan(net, 0).modules()),
                         {"kind": ckpt.NETWORKS_KIND, "net": to_dict(net), "lod": 0.0})
    with pytest.raises(ConfigError, match="latent search is an optimisation loop"):
        export_onnx(run, tmp_path / "s.onnx")
    assert not (tmp_path / "s.onnx").exists()


# ------------------------------------------------------------------------------------------------------ threshold
def _csv_rows(path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_export_threshold_equals_score_isolated_threshold(run_dir, real_images, tmp_path, capsys) -> None:
    """--threshold records the threshold `wildgan score --batch-mode isolated --threshold` applies (the graph's
    protocol), not the default mixed one, which flags another share of images."""
    from wildgan.cli import main
    from wildgan.export import onnx_threshold
    from wildgan.thresholds import run_threshold

    path = tmp_path / "t.onnx"
    assert main(["export", str(run_dir), "--out", str(path), "--threshold", "contamination"]) == 0
    raw = capsys.readouterr().err
    # the threshold message is wrapped to 100 columns, its continuation lines indented: read it as the one line
    assert all(len(ln) <= 100 or "/" in ln for ln in raw.splitlines()), raw
    err = raw.replace("\n  ", " ")
    assert ("threshold for output a: contamination (contamination=0.05, n=64): score > -0.4" in err
            and "(chosen on the run's training split, each image scored alone as the graph does)" in err), err
    # which c, as `score` says it: a Detector.fit run's, the c fit recorded (detector_threshold.json), where no
    # --expected-contamination is given
    assert f"; c = 0.05 (Detector.fit's, recorded in {run_dir / 'detector_threshold.json'}; --expected-contamination " \
           f"G chooses another): the threshold is percentile 95 of the training images' scores" in err, err
    meta = onnx_metadata(path)
    assert meta["threshold_rule"] == "contamination" and meta["threshold_score"] == "a"
    assert json.loads(meta["threshold_params"]) == {"contamination": 0.05, "n": 64, "source": "training split",
                                                    "batch_mode": "isolated", "param_from": "Detector.fit's record, "
                                                    f"{run_dir / 'detector_threshold.json'}"}
    # the same metadata as onnxruntime shows it to a deployment
    assert ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta() \
        .custom_metadata_map["threshold"] == meta["threshold"]
    value = float(meta["threshold"])
    model = load_model(run_dir, "cpu")
    assert value == run_threshold(model, run_dir, "contamination", batch_mode="isolated").value     # exactly
    assert value != run_threshold(model, run_dir, "contamination", batch_mode="mixed").value

    npz = tmp_path / "x.npz"
    np.savez(npz, x=real_images)
    csvs = {}
    for mode in ("isolated", "mixed"):
        assert main(["score", str(run_dir), "--data", str(npz), "--batch-mode", mode, "--threshold",
                     "contamination", "--no-progress", "--out", str(tmp_path / f"{mode}.csv")]) == 0
        csvs[mode] = _csv_rows(tmp_path / f"{mode}.csv")
    capsys.readouterr()
    iso = csvs["isolated"]
    assert {r["threshold"] for r in iso} == {f"{value:.9g}"} and iso[0]["threshold_rule"] == "contamination"
    assert {r["threshold"] for r in csvs["mixed"]} != {f"{value:.9g}"}
    # a deployment flags what `wildgan score --batch-mode isolated --threshold` flags
    thr = onnx_threshold(path)
    assert thr.value == value and thr.params["score"] == "a"
    flags = thr.apply(_run(path, real_images)[thr.params["score"]])
    assert flags.tolist() == [int(r["is_anomaly"]) for r in iso] and 0 < flags.sum() < len(flags)


@pytest.fixture(scope="module")
def fit_c02_run(tmp_path_factory):
    """A Detector.fit run thresholded by contamination c = 0.2 (mixed protocol, the Detector's default) on L_o."""
    import warnings

    x = np.random.default_rng(0).integers(0, 256, (16, 8, 8), dtype=np.uint8)
    run = tmp_path_factory.mktemp("fit02") / "det"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="training ended at")
        Detector(preset="tiny", total_kimg=0.05, phase_kimg=0.02, resolution=8, device="cpu", run_dir=str(run),
                 contamination=0.2, score="L_o").fit(x)
    return run


def test_python_export_takes_fit_s_recorded_c_as_the_cli_does(fit_c02_run, tmp_path, capsys) -> None:
    """export_onnx(run, path, threshold='contamination') without contamination= took c = 0.05 (its own default)
    where `wildgan export RUN --threshold contamination` took the c = 0.2 Detector.fit recorded: the same run, two
    thresholds. Now both take fit's through one rule (export_fit_param), and the Python model says where its c came
    from too; a c given still wins."""
    from wildgan.cli import main
    from wildgan.export import export_fit_param, onnx_threshold

    run, record = fit_c02_run, fit_c02_run / "detector_threshold.json"
    assert export_fit_param(run, "contamination") == (0.2, "")
    assert main(["export", str(run), "--no-progress", "--threshold", "contamination", "--score", "L_o", "--out",
                 str(tmp_path / "cli.onnx")]) == 0
    capsys.readouterr()
    cli = onnx_threshold(tmp_path / "cli.onnx")
    py = onnx_threshold(export_onnx(run, tmp_path / "py.onnx", threshold="contamination", score="L_o"))
    assert py == cli and py.params["contamination"] == 0.2, (py, cli)
    assert py.params["param_from"] == f"Detector.fit's record, {record}", py
    # fit's c, thresholded on L_o, is the share of training images to flag on any score: the default score (a)
    # takes it too, as the fitted Detector's set_params(score='a') and the CLI do; a c given wins, with no param_from
    a = onnx_threshold(export_onnx(run, tmp_path / "a.onnx", threshold="contamination"))
    assert a.params["contamination"] == 0.2 and a.params["param_from"] == f"Detector.fit's record, {record}", a
    given = onnx_threshold(export_onnx(run, tmp_path / "g.onnx", threshold="contamination", contamination=0.1,
                                       score="L_o"))
    assert given.params["contamination"] == 0.1 and "param_from" not in given.params, given


def test_from_run_in_another_batch_mode_keeps_fit_s_c_as_export_does(fit_c02_run, tmp_path) -> None:
    """fit(contamination=0.2) in the mixed protocol, then Detector.from_run(RUN, batch_mode='isolated') thresholded
    the isolated scores at the default c = 0.05, while the export (whose graph is the isolated protocol) took fit's
    c = 0.2, as the fitted Detector's set_params(batch_mode='isolated') keeps it: two thresholds of the same
    isolated scores. Now fit's c wins in any protocol: from_run, the export and `wildgan score --batch-mode isolated`
    threshold alike."""
    import warnings

    from wildgan.export import onnx_threshold

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # (says that batch_mode differs from fit's: leave it out ...)
        det = Detector.from_run(fit_c02_run, batch_mode="isolated", device="cpu")
    thr = onnx_threshold(export_onnx(fit_c02_run, tmp_path / "i.onnx", threshold="contamination", score="L_o"))
    assert (det.contamination, det.batch_mode, det.score_) == (0.2, "isolated", "L_o")
    assert det.threshold_ == thr.value, (det.threshold_, thr)


def test_export_threshold_mad_other_score_and_none(run_dir, tmp_path, capsys) -> None:
    from wildgan.cli import main
    from wildgan.export import onnx_threshold
    from wildgan.thresholds import run_threshold

    path = export_onnx(run_dir, tmp_path / "m.onnx", threshold="mad", mad_k=2.5, score="L_r", input_type="float")
    want = run_threshold(load_model(run_dir, "cpu"), run_dir, "mad", k=2.5, score="L_r", batch_mode="isolated")
    thr = onnx_threshold(path)
    assert (thr.value, thr.rule, thr.params) == (want.value, "mad", {**want.params, "batch_mode": "isolated"})
    # without --threshold: none, and the output says so
    assert main(["export", str(run_dir), "--out", str(tmp_path / "n.onnx"), "--mad-k", "2"]) == 0
    err = capsys.readouterr().err
    assert "--mad-k only matters with --threshold: no threshold is written without it" in err
    assert "no threshold in its metadata: --threshold contamination|mad records one" in err
    assert "`wildgan score RUN --batch-mode isolated --threshold RULE`, the graph's protocol" in err
    assert onnx_threshold(tmp_path / "n.onnx") is None
    assert not any(k.startswith("threshold") for k in onnx_metadata(tmp_path / "n.onnx"))


def test_export_a_score_left_out_of_the_graph_is_said_as_typed(run_dir, tmp_path, capsys) -> None:
    # `--score A --no-A` is the CLI user's typing: the score said as typed (A), not as Python's repr ('A')
    from wildgan.cli import main

    out = tmp_path / "a.onnx"
    assert main(["export", str(run_dir), "--out", str(out), "--threshold", "mad", "--score", "A", "--no-A",
                 "--no-progress"]) == 2
    assert "threshold score A is not an output of this graph (A is left out" in capsys.readouterr().err
    assert not out.exists()


def test_export_threshold_refusals_write_nothing(run_dir, tmp_path) -> None:
    out = tmp_path / "r.onnx"
    with pytest.raises(ConfigError, match="needs a labelled validation set"):
        export_onnx(run_dir, out, threshold="f1")
    with pytest.raises(ConfigError, match=r"contamination .* must be in \(0, 0.5\]"):
        export_onnx(run_dir, out, threshold="contamination", contamination=0.7)
    with pytest.raises(ConfigError, match=r"threshold score A is not an output of this graph \(A is left out"):
        export_onnx(run_dir, out, threshold="mad", score="A", include_A=False)
    # a Detector.fit run whose isolated training scores are gone: its in-memory images cannot be scored again
    import shutil

    from wildgan.errors import DataError

    run = shutil.copytree(run_dir, tmp_path / "run")
    for name in ("train_scores-isolated.csv", "train_scores-isolated.json"):
        (run / name).unlink()
    with pytest.raises(DataError, match=r"train_scores-isolated.csv is missing .* export without one \(threshold=None"):
        export_onnx(run, out, threshold="contamination")
    assert not out.exists()
    assert export_onnx(run, out).is_file()


def test_export_threshold_scores_an_uncached_training_split_alone(tmp_path) -> None:
    """A run without cached isolated training scores: they are computed (and cached) from its training split, each
    image alone, and only those: the mixed cache is neither read nor written."""
    from wildgan.export import onnx_threshold
    from wildgan.scoring.train_scores import read_train_scores
    from wildgan.thresholds import fit_threshold

    run = _run_at_lod(tmp_path, 0.5)
    path = export_onnx(run, tmp_path / "u.onnx", batch_size=2, threshold="contamination", contamination=0.1,
                       score="L_r")
    assert (run / "train_scores-isolated.csv").is_file() and not (run / "train_scores.csv").exists()
    from wildgan.data import build_split

    model = load_model(run, "cpu")
    train = build_split(model.cfg.data).train_x
    iso = model.score(train, batch_mode="isolated").scores["L_r"]
    np.testing.assert_array_equal(read_train_scores(run, model, "isolated")["L_r"], iso)
    assert onnx_threshold(path).value == fit_threshold("contamination", iso, contamination=0.1).value


def test_fanogan_export_without_threshold_points_to_plain_score(fanogan_run, tmp_path, capsys) -> None:
    # --batch-mode is a wildgan-run option; an f-AnoGAN graph's protocol is a plain `wildgan score`
    from wildgan.cli import main

    assert main(["export", str(fanogan_run), "--out", str(tmp_path / "f.onnx"), "--batch-size", "2"]) == 0
    err = capsys.readouterr().err
    assert "(else take it from `wildgan score RUN --threshold RULE`, the graph's protocol)" in err, err


def test_fanogan_export_threshold_from_its_one_protocol(fanogan_run, tmp_path) -> None:
    """f-AnoGAN has one protocol: its threshold comes from the ordinary training scores, for its own score A."""
    from wildgan.export import onnx_threshold
    from wildgan.thresholds import run_threshold

    thr = onnx_threshold(export_onnx(fanogan_run, tmp_path / "ft.onnx", batch_size=2, threshold="contamination"))
    want = run_threshold(load_model(fanogan_run, "cpu"), fanogan_run, "contamination", score="A")
    assert (thr.value, thr.params["score"], thr.params["batch_mode"]) == (want.value, "A", "independent")
    with pytest.raises(ConfigError, match=r"threshold score A is not an output"):   # (its default score)
        export_onnx(fanogan_run, tmp_path / "fn.onnx", threshold="mad", include_A=False)


def test_a_damaged_threshold_in_the_metadata_is_an_error_naming_the_model(tmp_path) -> None:
    """onnx_threshold names the model file for every unreadable threshold, a NaN one (which Threshold refuses: it
    would flag nothing) included."""
    import onnx
    from onnx import TensorProto, helper

    from wildgan.export import onnx_threshold

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["a"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])])
    for value, why in (("nan", "its value is nan"), ("high", "could not convert")):
        model = helper.make_model(graph)
        helper.set_model_props(model, {"threshold": value, "threshold_rule": "mad", "threshold_score": "a",
                                       "threshold_params": "{}"})
        path = tmp_path / f"{value}.onnx"
        onnx.save(model, str(path))
        with pytest.raises(ConfigError, match=rf"{path.name}: its threshold metadata cannot be read \(.*{why}"):
            onnx_threshold(path)


def test_export_threshold_skip_bad_leaves_unreadable_training_files_out(pile_run_gone_bad, tmp_path, capsys) -> None:
    """export --threshold of a run one of whose training files became unreadable: without --skip-bad it stops naming
    the file (and --skip-bad, which export has too); with it the threshold comes from the readable training images
    and its metadata says how many, beside the run's own count."""
    from wildgan.cli import main
    from wildgan.export import onnx_threshold

    run, pile, _ = pile_run_gone_bad
    out = tmp_path / "t.onnx"
    assert main(["export", str(run), "--out", str(out), "--threshold", "mad", "--no-progress"]) == 2
    assert f"{pile / '03.png'}: not a readable image" in capsys.readouterr().err and not out.exists()
    with pytest.warns(UserWarning, match=r"leave out 1 unreadable file .*03\.png"):
        assert main(["export", str(run), "--out", str(out), "--threshold", "mad", "--skip-bad", "--no-progress"]) == 0
    thr = onnx_threshold(out)
    assert thr.params["n"] == 19 and thr.params["n_trained"] == 20 and thr.params["batch_mode"] == "isolated"


# ------------------------------------------------------------------------------ scoring without wildgan or torch
def _doc_recipe() -> str:
    """The copy-paste recipe of docs/python_api.md ('Scoring without wildgan or torch'): its python block."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "python_api.md").read_text()
    part = doc.split("**Scoring without wildgan or torch.**", 1)[1]
    return part.split("```python\n", 1)[1].split("\n```", 1)[0]


def _recipe_files(root) -> list[str]:
    """8-bit files of every kind the recipe claims: colour, gray, alpha, palette, 1-bit, CMYK, EXIF-rotated,
    non-square, smaller than the resolution, and a large JPEG that wildgan decodes at a reduced scale."""
    from PIL import Image

    rng = np.random.default_rng(0)

    def smooth(h: int, w: int, c: int) -> np.ndarray:
        small = rng.integers(0, 256, (max(h // 8, 2), max(w // 8, 2), c), dtype=np.uint8)
        img = Image.fromarray(small[..., 0] if c == 1 else small).resize((w, h), Image.Resampling.BICUBIC)
        return np.asarray(img)

    root.mkdir(exist_ok=True)
    files = {"rgb_40x30.png": Image.fromarray(smooth(30, 40, 3)),
             "gray_20x20.png": Image.fromarray(smooth(20, 20, 1)),
             "gray_12x9.png": Image.fromarray(smooth(9, 12, 1)),
             "rgba.png": Image.fromarray(np.dstack([smooth(24, 24, 3), smooth(24, 24, 1)]), "RGBA"),
             "la.png": Image.fromarray(np.dstack([smooth(33, 33, 1), smooth(33, 33, 1)]), "LA"),
             "bits.bmp": Image.fromarray(smooth(28, 28, 1)).convert("1"),
             "big.jpg": Image.fromarray(smooth(768, 1024, 3)),
             "cmyk.jpg": Image.fromarray(smooth(48, 48, 3)).convert("CMYK")}
    pal = Image.fromarray(smooth(30, 30, 3)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.info["transparency"] = 3
    files["palette.png"] = pal
    out = []
    for name, img in files.items():
        img.save(root / name, **({"transparency": 3} if name == "palette.png" else {}))
        out.append(str(root / name))
    exif = Image.Exif()
    exif[0x0112] = 6                                        # rotated a quarter: wildgan shows it upright
    Image.fromarray(smooth(40, 64, 3)).save(root / "rotated.jpg", exif=exif)
    out.append(str(root / "rotated.jpg"))
    return out


@pytest.mark.parametrize("fit", ["resize", "pad", "letterbox"])
@pytest.mark.parametrize("channels", [1, 3])
def test_doc_recipe_converts_files_as_wildgan_does(fit, channels, tmp_path) -> None:
    """The documented torch-free conversion gives wildgan's pixels exactly, for every fit and channel count (before,
    the docs named no filter and Pillow's default, bicubic, moved scores by up to 0.013)."""
    ns: dict = {}
    exec(compile(_doc_recipe(), "docs/python_api.md", "exec"), ns)
    files = _recipe_files(tmp_path / "img")
    for r in (16, 32):
        ref = to_images(files, r, channels, resize_mode=fit)[0]
        for f, want in zip(files, ref):
            got = ns["load_image"](f, r, channels, fit)
            assert got.dtype == np.uint8 and got.shape == want.shape, f
            np.testing.assert_array_equal(got, want, err_msg=f"{f} at {r} px")


def test_doc_recipe_scores_like_wildgan_without_torch(run_dir, tmp_path) -> None:
    """The recipe, run where torch and wildgan cannot be imported, gives Detector.from_run(batch_mode='isolated')'s
    scores and flags, and the metadata says what it needs."""
    import subprocess
    import sys

    path = export_onnx(run_dir, tmp_path / "m.onnx", threshold="contamination")
    files = _recipe_files(tmp_path / "img")
    meta = onnx_metadata(path)
    assert json.loads(meta["conversion"])["resample"] == "bilinear"
    import wildgan
    from wildgan.scoring.scores import SCORES_VERSION

    assert meta["wildgan_version"] == wildgan.__version__ and meta["scores_version"] == str(SCORES_VERSION)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    desc = sess.get_modelmeta().description
    assert "uint8 [N, 16, 16, 1]" in desc and "higher = more anomalous" in desc and "> metadata 'threshold'" in desc
    script = tmp_path / "prod.py"
    script.write_text(
        "import importlib.abc, json, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'wildgan'):\n"
        "            raise ImportError(f'{name} is not on the production machine')\n"
        "sys.meta_path.insert(0, Block())\n"
        + _doc_recipe() +
        "\nscores, flags, outputs = score_files(sys.argv[1], sys.argv[2:])\n"
        "assert not any(m.split('.')[0] in ('torch', 'wildgan') for m in sys.modules)\n"
        "print(json.dumps({'scores': scores.tolist(), 'flags': flags.tolist()}))\n")
    res = subprocess.run([sys.executable, str(script), str(path), *files], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout.strip().splitlines()[-1])
    import warnings

    with warnings.catch_warnings():     # (from_run of a mixed fit, files not MNIST-sized nor gray: wildgan says so)
        warnings.simplefilter("ignore")
        det = Detector.from_run(run_dir, batch_mode="isolated", device="cpu")
        ref = det.decision_function(files)
    np.testing.assert_allclose(got["scores"], ref, rtol=0, atol=1e-5)
    assert float(meta["threshold"]) == pytest.approx(det.threshold_, abs=1e-6)
    assert got["flags"] == (ref > det.threshold_).astype(int).tolist()


def test_doc_recipe_names_an_empty_list_of_files(run_dir, tmp_path) -> None:
    """score_files on no files (an empty folder's glob) says so, as Detector does ('no images given'), where it was
    numpy's 'need at least one array to stack'."""
    ns: dict = {}
    exec(compile(_doc_recipe(), "docs/python_api.md", "exec"), ns)
    path = export_onnx(run_dir, tmp_path / "m.onnx", threshold="contamination")
    with pytest.raises(ValueError, match=r"score_files: no image files given \(paths is empty\)"):
        ns["score_files"](str(path), [])
    with pytest.raises(ValueError, match="no image files given"):
        ns["score_files"](str(path), (p for p in ()))


def test_wildgan_score_on_an_onnx_model_says_how_it_is_scored(run_dir, tmp_path, capsys) -> None:
    """`wildgan score` reads run folders; an .onnx given for one (or for the empty folder it was to score) is
    refused saying where such a model is scored, not only that it is 'a file, not a run directory'."""
    from wildgan.cli import main

    path = export_onnx(run_dir, tmp_path / "m.onnx")
    (tmp_path / "empty").mkdir()
    assert main(["score", str(path), "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: is a file, not a run directory" in err and "scored with onnxruntime" in err, err
    assert main(["score", str(run_dir), "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "s.csv")]) == 2
    assert f"{tmp_path / 'empty'}: folder contains no image files" in capsys.readouterr().err


def test_the_metadata_names_the_run_by_its_absolute_path(run_dir, tmp_path, monkeypatch) -> None:
    """wildgan_run and source kept the path as typed ('run/network-final.json'), which names nothing once the model
    is taken to another machine or read from another folder."""
    import os

    monkeypatch.chdir(run_dir.parent)
    path = export_onnx(os.path.relpath(run_dir), tmp_path / "m.onnx")
    meta = onnx_metadata(path)
    assert meta["wildgan_run"] == str(run_dir.resolve())
    from pathlib import Path

    assert Path(meta["source"]).is_absolute() and Path(meta["source"]).parent == run_dir.resolve()
