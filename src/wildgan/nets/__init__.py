"""Networks: plain nn.Modules. `pgan` is the proposed method's G, D, E; `fanogan` the f-AnoGAN baseline."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from ..config import NetConfig
from .pgan import Discriminator, Encoder, Generator, split_lod


@dataclass
class PGANNetworks:
    """The four networks of one run. Gs is the EMA of G used at test time (spec 3.4)."""

    G: Generator
    D: Discriminator
    E: Encoder
    Gs: Generator

    def to(self, device: torch.device | str) -> "PGANNetworks":
        for m in (self.G, self.D, self.E, self.Gs):
            m.to(device)
        return self

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"G": self.G, "D": self.D, "E": self.E, "Gs": self.Gs}


def build_pgan(cfg: NetConfig, seed: int, fused: bool = True) -> PGANNetworks:
    """Freshly initialised networks; the same (cfg, seed) always gives the same weights (the 'untrained' control)."""
    gen = torch.random.fork_rng(devices=[])
    with gen:
        # the CPU generator alone (the networks are built on the CPU): torch.manual_seed seeds CUDA's too (queued, where
        # CUDA is not initialised), which fork_rng(devices=[]) does not put back
        torch.default_generator.manual_seed(seed)
        G = Generator(cfg, fused)
        D = Discriminator(cfg, fused)
        E = Encoder(cfg, fused)
    Gs = copy.deepcopy(G)
    for m in (Gs,):
        m.requires_grad_(False)
    return PGANNetworks(G=G, D=D, E=E, Gs=Gs)


def count_parameters(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


__all__ = ["Generator", "Discriminator", "Encoder", "PGANNetworks", "build_pgan", "count_parameters", "split_lod"]
