"""`wildgan info`: parameter counts and FLOPs of a preset's networks."""

from __future__ import annotations

import argparse
import json

from .common import write_stdout
from .config_args import net_config_from_args


def cmd_info(a: argparse.Namespace) -> int:
    from ..nets.info import network_info

    net = net_config_from_args(a, a.preset, a.resolution, a.channels)
    info = network_info(net)
    if a.json:
        write_stdout(json.dumps(info, indent=2) + "\n")
        return 0
    width = f" (width {a.width})" if a.width is not None else ""
    lines = [f"preset {a.preset}{width}, {a.resolution}x{a.resolution}x{a.channels}, N_z = {info['latent_size']}",
             f"{'net':<4}{'parameters':>14}{'fwd GFLOP/img':>16}"]
    lines += [f"{k:<4}{info['params'][k]:>14,}{info['forward_gflop'][k]:>16.3f}" for k in ("G", "D", "E")]
    lines.append(f"training GFLOP per real image at full resolution (7g + 14d + 3e, spec 8.2): "
                 f"{info['train_gflop_per_image']:.2f}")
    write_stdout("\n".join(lines) + "\n")
    return 0
