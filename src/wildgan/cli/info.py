"""`wildgan info`: parameter counts and FLOPs of a preset's networks, or of a run's (`wildgan info RUN`)."""

from __future__ import annotations

import argparse
import json
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


def _table(info: dict[str, Any], nets: tuple[str, ...] = ("G", "D", "E")) -> list[str]:
    lines = [f"{'net':<4}{'parameters':>14}{'fwd GFLOP/img':>16}"]
    lines += [f"{k:<4}{info['params'][k]:>14,}{info['forward_gflop'][k]:>16.3f}" for k in nets]
    if nets == ("G", "D", "E"):
        lines.append(f"training GFLOP per real image at full resolution (7g + 14d + 3e, spec 8.2): "
                     f"{info['train_gflop_per_image']:.2f}")
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
    if cfg.method == "fanogan":
        # (network_info counts the progressive G, D and E; f-AnoGAN's DCGAN-style networks are others)
        if a.json:
            write_stdout(json.dumps({"run": str(a.run), "method": cfg.method, "preset": cfg.preset}, indent=2)
                         + "\n")
            return 0
        write_stdout(f"run {a.run}: f-AnoGAN (preset {cfg.preset}), {shape}; `wildgan info` counts the "
                     f"progressive networks only\n{rest}\n")
        return 0
    info = network_info(net)
    # (a search run trains no encoder: its row would count networks it does not have; the JSON leaves it out too, and
    # the training GFLOP, whose formula counts E, as the table does)
    nets = ("G", "D") if cfg.method == "search" else ("G", "D", "E")
    if nets != ("G", "D", "E"):
        info = {k: ({n: v[n] for n in nets} if k in ("params", "forward_gflop") else v) for k, v in info.items()
                if k != "train_gflop_per_image"}
    if a.json:
        write_stdout(json.dumps({"run": str(a.run), "method": cfg.method, "preset": cfg.preset, **info}, indent=2)
                     + "\n")
        return 0
    lines = [f"run {a.run}: {cfg.method} (preset {cfg.preset}), {shape}, N_z = {info['latent_size']}",
             *_table(info, nets), rest]
    write_stdout("\n".join(lines) + "\n")
    return 0
