"""Scoring a run directory's model: load it (safetensors + JSON only), score images, write per-image CSV.

Python equivalent of `wildgan score`."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import checkpoint as ckpt
from ..config import RunConfig, ScoreConfig, read_run_config
from ..devices import resolve_device
from ..errors import CheckpointError
from ..nets import build_pgan
from .pgan_scores import ScoreResult, score_pgan


@dataclass
class LoadedModel:
    """A scoring-ready model: the run's config, its networks and where they came from."""

    cfg: RunConfig
    nets: Any                      # PGANNetworks, or FAnoGANNetworks for method 'fanogan'
    source: str                    # file the weights came from, or 'untrained'
    meta: dict
    device: torch.device

    @property
    def lod(self) -> float:
        """The level of detail the networks were trained to (0 unless training stopped before full growth)."""
        return float(self.meta.get("lod", 0.0) or 0.0)

    def score(self, x_u8: np.ndarray, *, score_cfg: ScoreConfig | None = None, batch_mode: str = "mixed",
              return_recon: bool = False, progress: bool = False) -> ScoreResult:
        sc = score_cfg or self.cfg.score
        if self.cfg.method == "wildgan":
            return score_pgan(self.nets, x_u8, sc, device=self.device, batch_mode=batch_mode,
                              return_recon=return_recon, progress=progress, lod=self.lod)
        if self.cfg.method == "search":
            from .latent_search import search_scores

            G = self.nets.Gs if sc.generator == "Gs" else self.nets.G
            return search_scores(G, self.nets.D, x_u8, self.cfg.search, sc.lam, sc.kappa, self.device,
                                 return_recon=return_recon, progress=progress, lod=self.lod)
        if self.cfg.method == "fanogan":
            from .fanogan_scores import score_fanogan

            return score_fanogan(self.nets, x_u8, batch_size=sc.batch_size, lam=sc.lam, kappa=sc.kappa,
                                 device=self.device, return_recon=return_recon)
        raise CheckpointError(f"unknown method {self.cfg.method!r} in the run config")


def final_checkpoint(run_dir: Path) -> Path:
    """network-final.json (pGAN) / fanogan-final.json, else the newest good periodic checkpoint."""
    run_dir = Path(run_dir)
    for name in ("network-final.json", "fanogan-final.json"):
        if (run_dir / name).is_file():
            return run_dir / name
    cks = ckpt.list_checkpoints(run_dir / "checkpoints")
    if cks:
        return cks[-1]
    raise CheckpointError(f"{run_dir}: no trained networks (no network-final.json and no checkpoints/)")


def load_model(run_dir: Path, device: str | torch.device = "auto", checkpoint: Path | None = None) -> LoadedModel:
    cfg = read_run_config(run_dir)
    dev = resolve_device(device)
    path = Path(checkpoint) if checkpoint else final_checkpoint(run_dir)
    if cfg.method == "fanogan":
        from ..nets.fanogan import load_fanogan  # type: ignore[attr-defined]

        nets = load_fanogan(path)
        nets = nets.to(dev) if hasattr(nets, "to") else nets
        meta = ckpt.read_meta(path)
    else:
        nets, meta = ckpt.load_pgan(path, dev)
    return LoadedModel(cfg=cfg, nets=nets, source=str(path), meta=meta, device=dev)


def untrained_model(cfg: RunConfig, device: str | torch.device = "auto") -> LoadedModel:
    """The same architecture with the run's initial weights (same seed): the 'untrained networks' control."""
    dev = resolve_device(device)
    if cfg.method == "fanogan":
        from ..nets.fanogan import build_fanogan  # type: ignore[attr-defined]

        nets = build_fanogan(cfg.fanogan, cfg.net.resolution, cfg.net.channels, seed=cfg.fanogan.seed)
        nets = nets.to(dev) if hasattr(nets, "to") else nets
    else:
        nets = build_pgan(cfg.net, cfg.train.seed).to(dev)
    return LoadedModel(cfg=cfg, nets=nets, source="untrained", meta={}, device=dev)


def write_scores_csv(path: Path, ids: list[str], result: ScoreResult, labels: np.ndarray | None = None,
                     extra: dict[str, np.ndarray] | None = None) -> None:
    """One row per image: id, label (when known), every score. Written atomically."""
    from ..fileio import atomic_write_text
    import io

    names = list(result.scores)
    extra = extra or {}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id"] + (["label"] if labels is not None else []) + names + list(extra))
    for i, id_ in enumerate(ids):
        row: list[Any] = [id_]
        if labels is not None:
            row.append(int(labels[i]))
        row += [f"{result.scores[k][i]:.9g}" for k in names]
        row += [extra[k][i] for k in extra]
        w.writerow(row)
    atomic_write_text(Path(path), buf.getvalue())
