"""What evaluate_model (and the report's diagnose_run, which takes its controls from the same helper,
evaluation.run.score_controls) records beside the AUCs, checked against the numbers it is made of: the
untrained-networks control scored at the level of detail the trained networks are (a run stopped before full
growth, lod > 0, is scored at its reached resolution, and its control must see the same reduced queries, or the
trained AUC is compared with untrained networks of another resolution), and the mean latent norm of the normal and
the anomalous test images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wildgan.config import DataConfig, RunConfig, TrainConfig, net_config_for_preset
from wildgan.data import build_split
from wildgan.evaluation import run as evaluation_run
from wildgan.scoring.run import untrained_model


def _cfg(data: Path) -> RunConfig:
    return RunConfig(data=DataConfig(data=str(data), normal=("0",), resolution=8, channels=1),
                     net=net_config_for_preset("tiny", 8, 1), train=TrainConfig(total_kimg=1.0, seed=1))


def test_the_untrained_control_is_scored_at_the_trained_networks_lod(tiny_npz: Path, monkeypatch) -> None:
    cfg = _cfg(tiny_npz)
    split = build_split(cfg.data)
    model = untrained_model(cfg, "cpu")          # (networks to score: which weights does not matter here)
    model.meta["lod"] = 1.0                      # stopped at 4x4
    made = []
    monkeypatch.setattr(evaluation_run, "untrained_model",
                        lambda *a, **k: made.append(untrained_model(*a, **k)) or made[-1])
    scored_at = []
    real = type(model).score
    monkeypatch.setattr(type(model), "score", lambda self, *a, **k: scored_at.append(self.lod) or real(self, *a, **k))
    evaluation_run.evaluate_model(model, split, controls=True)
    assert len(made) == 1 and made[0].lod == 1.0
    assert scored_at and set(scored_at) == {1.0}     # the trained networks, the other generator and the control


def test_the_mean_latent_norm_is_recorded_for_each_side_of_the_labels(tiny_npz: Path) -> None:
    # eval.json's mean ||E(Q)|| of the normal and the anomalous test images, which the report and `wildgan evaluate`
    # turn into "anomalies sit nearer to the origin": the two swapped passed every test (they were read back only)
    cfg = _cfg(tiny_npz)
    split = build_split(cfg.data)
    model = untrained_model(cfg, "cpu")
    z = model.score(split.test_x).scores["z_norm"]
    y = split.test_y
    assert not np.isclose(z[y == 0].mean(), z[y == 1].mean())
    got = evaluation_run.evaluate_model(model, split, controls=False)["mean_z_norm"]
    assert got == {"normal": float(z[y == 0].mean()), "anomalous": float(z[y == 1].mean())}


def test_the_report_s_untrained_control_is_scored_at_the_trained_networks_lod(trained_run: Path, tmp_path: Path,
                                                                            monkeypatch) -> None:
    # report.diagnose_run scores its controls apart from evaluate_model (its own way of scoring the untrained
    # networks: a search run's cached latents, its batch mode), through score_controls, which sets the lod
    import shutil

    from wildgan.evaluation import report
    from wildgan.scoring.run import load_model

    run = shutil.copytree(trained_run, tmp_path / "run")
    model = load_model(run, "cpu")
    assert model.lod > 0                          # (0.05 kimg with 0.03-kimg phases: not grown to 8x8)
    made = []
    # (built by evaluation.run.score_controls, which evaluate_model takes its controls from too)
    monkeypatch.setattr(evaluation_run, "untrained_model",
                        lambda *a, **k: made.append(untrained_model(*a, **k)) or made[-1])
    report.diagnose_run(run, device="cpu", model=model)
    assert len(made) == 1 and made[0].lod == model.lod


def test_the_report_s_controls_are_evaluate_s(trained_run: Path, tmp_path: Path) -> None:
    # the report's metrics.json and eval.json record the same controls of the same networks on the same test split:
    # their AUCs / APs, the per-class controls and the mean latent norms, each to the bit (the two had their own
    # copies of that code, each guarded only by its own test, free to drift apart)
    import shutil

    from wildgan.evaluation import report
    from wildgan.scoring.run import load_model

    run = shutil.copytree(trained_run, tmp_path / "run")
    ev = evaluation_run.evaluate_run(run, device="cpu", write=False)
    _, diag = report.diagnose_run(run, device="cpu", model=load_model(run, "cpu"))
    m = diag.metrics
    assert ev["controls"] and set(ev["controls"]) == {"untrained", "pixel_norm", "pixel_std", "pixel_mean"}
    for key in ("controls", "controls_ap", "mean_z_norm", "auc_ci95", "auc_vs_controls", "by_class"):
        assert key in ev and m[key] == ev[key], key


def test_every_scoring_of_an_evaluation_shows_a_progress_bar_when_asked(tiny_npz: Path, monkeypatch) -> None:
    # the other generator and the untrained control were scored without a bar under progress=True: a search run's
    # evaluation spent as long on them as on the trained scoring, silently; and none where progress is off
    cfg = _cfg(tiny_npz)
    split = build_split(cfg.data)
    model = untrained_model(cfg, "cpu")
    asked = []
    real = type(model).score
    monkeypatch.setattr(type(model), "score",
                        lambda self, *a, **k: asked.append(k.get("progress", False)) or real(self, *a, **k))
    for progress in (True, False):
        asked.clear()
        evaluation_run.evaluate_model(model, split, controls=True, progress=progress)
        assert asked == [progress] * 3       # the trained networks, the other generator, the untrained control


def test_an_f_anogan_model_s_lod_is_0_in_eval_json_and_the_report_alike(tmp_path: Path) -> None:
    # f-AnoGAN's networks do not grow and are scored at full size: eval.json wrote 0 for its lod while the report's
    # metrics.json (which records LoadedModel.lod) wrote whatever its meta held
    from wildgan.config import FAnoGANConfig

    rng = np.random.default_rng(0)
    npz = tmp_path / "tiny32.npz"                # (f-AnoGAN's smallest resolution: 32)
    np.savez(npz, x_train=rng.integers(0, 255, (40, 32, 32), dtype=np.uint8), y_train=np.arange(40) % 2,
             x_test=rng.integers(0, 255, (8, 32, 32), dtype=np.uint8), y_test=np.arange(8) % 2)
    cfg = RunConfig(data=DataConfig(data=str(npz), normal=("0",), resolution=32, channels=1), method="fanogan",
                    net=net_config_for_preset("tiny", 32, 1), train=TrainConfig(total_kimg=1.0, seed=1),
                    fanogan=FAnoGANConfig(dim=4))
    split = build_split(cfg.data)
    model = untrained_model(cfg, "cpu")
    model.meta["lod"] = 1.0                      # (a meta copied from a wildgan run, or edited)
    assert model.lod == 0.0                      # what the report's metrics.json records
    rec = evaluation_run.evaluate_model(model, split, controls=False)["model"]
    assert rec["lod"] == 0.0 and rec["scored_resolution"] == 32


def test_each_scoring_of_an_evaluation_says_what_it_scores_on_its_bar(tiny_npz: Path, capsys) -> None:
    # evaluate's three bars (the trained networks, the other generator, the untrained control) were each a bare
    # "score": three alike bars, none saying which scoring it counted
    cfg = _cfg(tiny_npz)
    split = build_split(cfg.data)
    model = untrained_model(cfg, "cpu")
    capsys.readouterr()
    evaluation_run.evaluate_model(model, split, controls=True, progress=True)
    err = capsys.readouterr().err
    descs = {ln.split(":")[0].strip() for ln in err.replace("\r", "\n").splitlines() if "forward" in ln}
    assert descs == {"score (trained networks, Gs)", "score (the other generator, raw G)",
                     "score (untrained networks, the control)"}, err
    # and none is left on the bars drawn after it (the label is the scoring's, not the process's)
    from wildgan.progress import progress_bar

    with progress_bar(total=1, desc="after") as bar:
        bar.update()
    assert "after (" not in capsys.readouterr().err


def test_an_f_anogan_model_s_scoring_shows_its_bar_when_asked(tmp_path: Path, capsys) -> None:
    # LoadedModel.score passed no `progress` on to f-AnoGAN's scoring: evaluate's bars (trained networks, untrained
    # control) were never drawn for an f-AnoGAN run, whatever --progress said
    from wildgan.config import FAnoGANConfig

    cfg = RunConfig(data=DataConfig(data=str(tmp_path / "x.npz"), normal=("0",), resolution=32, channels=1),
                    method="fanogan", net=net_config_for_preset("tiny", 32, 1), train=TrainConfig(total_kimg=1.0),
                    fanogan=FAnoGANConfig(dim=4))
    model = untrained_model(cfg, "cpu")
    x = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 1), dtype=np.uint8)
    capsys.readouterr()
    model.score(x, progress=True)
    assert "score f-AnoGAN" in capsys.readouterr().err
    model.score(x, progress=False)
    assert "score f-AnoGAN" not in capsys.readouterr().err
