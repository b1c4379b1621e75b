"""Export a trained run's scoring graph (E, Gs, D's features and the scores) to ONNX for onnxruntime.

Covers wildgan runs (below) and f-AnoGAN runs (FAnoGANScoringGraph: izi_f encoder, G, the critic's features and the
same five scores; its networks are in eval mode, so every image is scored on its own and the graph equals
`wildgan score` on that run exactly: metadata batch_mode 'independent'). Latent search runs are an optimisation
loop, not a graph, and are refused.

Batch composition: E ends with a minibatch-stddev layer, so in the paper's 'mixed' protocol an image's score depends
on which images share its batch (wildgan.scoring.pgan_scores). A deployed graph cannot know how the caller will batch
(one image from a camera, a half-full last batch, a batch of nothing but anomalies), so the export uses the
'isolated' protocol instead: group size 1, every image's stddev feature is that of a batch of copies of itself.
Each output row then depends only on its input row, the batch axis is dynamic (any N >= 1, no padding, no mixing
rules for the caller), and the graph equals `LoadedModel.score(x, batch_mode='isolated')` and
`Detector(batch_mode='isolated')`. The cost: scores differ slightly from the paper's mixed protocol, so thresholds
for an exported model must come from isolated-mode training scores (Detector(batch_mode='isolated') or
run_training_scores(run_dir, batch_mode='isolated')).

Level of detail: a run that stopped before its schedule reached full resolution (short --total-kimg, a --minutes
budget, an interrupted run) has lod > 0 in its checkpoint metadata, and its full-resolution layers are untrained.
Scoring evaluates such a run at its lod (wildgan.scoring.pgan_scores.score_pgan); so does the graph: the run's lod
is baked in as a constant (fractional lods included: the fade-in blends of G, E and D and the query reduction of
pgan_scores.at_lod), the input stays full-resolution images, and metadata_props['lod'] records it.

Graph: input 'images', outputs 'a', 'L_n', 'L_o', 'L_r', ('A'), 'z' (float32, [N] each; z [N, N_z]).
  input_type='uint8': uint8 [N, R, R, C] (NHWC) already at the run's resolution and channels: the graph maps pixels
    to [-1, 1] (x * 2/255 - 1) and nothing else; cropping, resizing and channel conversion are the caller's, done
    like the run's (wildgan.detector.to_images, and metadata_props' conversion rule);
  input_type='float': float32 [N, C, R, R] in [-1, 1] (= x * 2/255 - 1, what the networks see).
The ONNX model's metadata_props record resolution (of the input), channels, input_type, lam, kappa, batch_mode, lod
and the run's image-conversion rule.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data.transforms import u8_to_unit
from .errors import ConfigError, WildganError
from .scoring.pgan_scores import at_lod
from .scoring.scores import encoder_scores, fanogan_score

INPUT_TYPES = ("uint8", "float")


class ScoringGraph(nn.Module):
    """images -> (a, L_n, L_o, L_r[, A], z) in the isolated protocol; the functions of wildgan.scoring.scores.

    `lod`: the level of detail the networks are evaluated at, as in score_pgan (the run's LoadedModel.lod): the
    full-resolution input is reduced by at_lod, then E, G and D run at `lod` (fade-in included). A constant of the
    graph."""

    def __init__(self, E: nn.Module, G: nn.Module, D: nn.Module | None, lam: float, kappa: float,
                 input_type: str = "uint8", lod: float = 0.0) -> None:
        super().__init__()
        if input_type not in INPUT_TYPES:
            raise ConfigError(f"input_type must be one of {INPUT_TYPES}, got {input_type!r}")
        lod = float(lod)
        if not (math.isfinite(lod) and 0.0 <= lod <= max(E.cfg.resolution_log2 - 2, 0)):
            raise ConfigError(f"lod must be in [0, {E.cfg.resolution_log2 - 2}] for resolution {E.cfg.resolution}, "
                              f"got {lod}")
        self.lod = lod
        self.E = copy.deepcopy(E).eval()
        self.E.mbstd_group = 1  # isolated: see the module docstring
        self.G = copy.deepcopy(G).eval()
        self.D = copy.deepcopy(D).eval() if D is not None else None
        for net in (self.E, self.G, self.D):
            if net is not None:
                _unfuse(net)
        self.lam, self.kappa, self.input_type = float(lam), float(kappa), input_type

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.input_type == "uint8":
            q = u8_to_unit(x.permute(0, 3, 1, 2))                     # the training rule
        else:
            q = x.float()
        q = at_lod(q, self.lod)     # the queries as the networks see them at the run's lod (identity at lod 0)
        z = self.E(q, self.lod)
        rec = self.G(z, self.lod)
        q, rec, z = q.float(), rec.float(), z.float()
        s = encoder_scores(q, rec, z, self.lam)         # the scoring path's own formulas, in its output order
        out = [s["a"], s["L_n"], s["L_o"], s["L_r"]]
        if self.D is not None:
            out.append(fanogan_score(q, rec, self.D.features(q, self.lod).float(),
                                     self.D.features(rec, self.lod).float(), self.kappa))
        return tuple(out) + (z,)


class FAnoGANScoringGraph(nn.Module):
    """images -> (a, L_n, L_o, L_r[, A], z) for an f-AnoGAN run: z = E(x) (tanh codes), X_rec = G(z), A with the
    critic's 8192-d features; the functions of wildgan.scoring.scores, as score_fanogan computes them. Eval mode
    throughout (BatchNorm with its running statistics, the critic's LayerNorm per sample), so no row depends on
    another and the batch axis is free."""

    def __init__(self, E: nn.Module, G: nn.Module, D: nn.Module | None, lam: float, kappa: float,
                 input_type: str = "uint8") -> None:
        super().__init__()
        if input_type not in INPUT_TYPES:
            raise ConfigError(f"input_type must be one of {INPUT_TYPES}, got {input_type!r}")
        self.lod = 0.0                                   # f-AnoGAN does not grow
        self.E, self.G = copy.deepcopy(E).eval(), copy.deepcopy(G).eval()
        self.D = copy.deepcopy(D).eval() if D is not None else None
        self.lam, self.kappa, self.input_type = float(lam), float(kappa), input_type

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        q = u8_to_unit(x.permute(0, 3, 1, 2)) if self.input_type == "uint8" else x.float()
        z = self.E(q)
        rec = self.G(z)
        s = encoder_scores(q, rec, z, self.lam)
        out = [s["a"], s["L_n"], s["L_o"], s["L_r"]]
        if self.D is not None:
            out.append(fanogan_score(q, rec, self.D.features(q), self.D.features(rec), self.kappa))
        return tuple(out) + (z.float(),)


def _unfuse(net: nn.Module) -> None:
    """Use the unfused up/down convolutions (same maths, see EqConv2d): the fused ones build their 4x4 kernel from the
    weights at run time, which the TorchScript ONNX exporter rejects ('kernel of unknown shape')."""
    from .nets.layers import EqConv2d

    for m in net.modules():
        if isinstance(m, EqConv2d):
            m.fused = False


def output_names(include_A: bool = True) -> list[str]:
    return ["a", "L_n", "L_o", "L_r"] + (["A"] if include_A else []) + ["z"]


def scoring_graph(run_dir: str | Path, *, input_type: str = "uint8", include_A: bool = True,
                  checkpoint: str | Path | None = None) -> tuple[ScoringGraph | FAnoGANScoringGraph, Any]:
    """The exportable module of a run (CPU, eval mode) and its LoadedModel: for a wildgan run at the run's level of
    detail (model.lod), for an f-AnoGAN run its three networks as `wildgan score` uses them."""
    from .scoring.run import load_model

    model = load_model(Path(run_dir), "cpu", checkpoint=Path(checkpoint) if checkpoint else None)
    sc = model.cfg.score
    if model.cfg.method == "fanogan":
        nets = model.nets
        return FAnoGANScoringGraph(nets.E, nets.G, nets.D if include_A else None, sc.lam, sc.kappa,
                                   input_type), model
    if model.cfg.method != "wildgan":
        raise ConfigError(f"{run_dir}: ONNX export covers wildgan and f-AnoGAN runs; this run's method is "
                          f"{model.cfg.method!r} (latent search is an optimisation loop, not a graph); score it "
                          "with `wildgan score`")
    G = model.nets.Gs if sc.generator == "Gs" else model.nets.G
    graph = ScoringGraph(model.nets.E, G, model.nets.D if include_A else None, sc.lam, sc.kappa, input_type,
                         lod=model.lod)
    return graph, model


# The scoring graph's own floor: torch writes opsets 7 and 8 but fails on this graph there (no Expand in 7, no
# nearest upsampling to a computed size before 9), after tracing, with a traceback and a dump of the whole graph.
GRAPH_MIN_OPSET = 9


def _opset_range() -> tuple[int, int]:
    """The ONNX opsets torch's TorchScript exporter writes that can hold the scoring graph (9 to 23 in torch 2.13)."""
    try:
        from torch.onnx._constants import ONNX_MAX_OPSET, ONNX_MIN_OPSET
        return max(int(ONNX_MIN_OPSET), GRAPH_MIN_OPSET), int(ONNX_MAX_OPSET)
    except (ImportError, AttributeError):      # (a private module: another torch may lack it)
        return GRAPH_MIN_OPSET, 23


def export_onnx(run_dir: str | Path, path: str | Path, batch_size: int = 64, opset: int = 17, *,
                input_type: str = "uint8", include_A: bool = True, checkpoint: str | Path | None = None) -> Path:
    """Write the run's scoring graph to `path` (.onnx). `batch_size` is the example batch the graph is traced with;
    the batch axis stays dynamic (wildgan: isolated protocol; f-AnoGAN: every image on its own anyway). Needs the
    `onnx` extra (pip install onnx) to write metadata."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    lo, hi = _opset_range()
    if isinstance(opset, bool) or not isinstance(opset, int) or not lo <= opset <= hi:
        # (torch's own error comes after tracing, as a traceback of its exporter)
        raise ConfigError(f"opset must be an ONNX opset this torch exports for the scoring graph, {lo} to {hi}; got "
                          f"{opset!r} (the default, 17, is read by onnxruntime 1.12 and later)")
    if Path(path).exists() and not Path(path).is_file() and not Path(path).is_dir():
        raise ConfigError(f"{path}: not a regular file (a device or a pipe); the ONNX model is written to a file")
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        # checked first: without it torch's exporter fails with its own error (OnnxExporterError, not ImportError)
        # after the model has been traced
        raise WildganError("ONNX export needs the 'onnx' package: pip install 'wildgan[onnx]' (or pip install onnx)")
    graph, model = scoring_graph(run_dir, input_type=input_type, include_A=include_A, checkpoint=checkpoint)
    r, c = model.cfg.net.resolution, model.cfg.net.channels
    gen = torch.Generator().manual_seed(0)
    if input_type == "uint8":
        example = torch.randint(0, 256, (batch_size, r, r, c), dtype=torch.uint8, generator=gen)
    else:
        example = torch.rand((batch_size, c, r, r), generator=gen) * 2 - 1
    names = output_names(include_A)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript exporter deprecation / tracer notes: not the user's concern
            # dynamo=False: the TorchScript exporter needs no onnxscript; the graph is static apart from the batch axis
            dynamic = {"images": {0: "N"}, **{k: {0: "N"} for k in names}}
            torch.onnx.export(graph, (example,), str(tmp), input_names=["images"], output_names=names,
                              opset_version=int(opset), dynamic_axes=dynamic, do_constant_folding=True, dynamo=False)
        _add_metadata(tmp, {"wildgan_run": str(run_dir), "source": model.source, "resolution": r, "channels": c,
                            "method": model.cfg.method, "input_type": input_type,
                            "input_layout": "NHWC uint8" if input_type == "uint8" else "NCHW float32 in [-1, 1]",
                            "batch_mode": batch_mode_of(model.cfg.method), "lam": graph.lam,
                            "kappa": graph.kappa, "lod": graph.lod, "outputs": names,
                            "conversion": _conversion(Path(run_dir))})
        tmp.replace(path)
    except WildganError:
        raise
    except ImportError as e:
        raise WildganError(f"ONNX export needs the 'onnx' package (pip install 'wildgan[onnx]'): {e}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def batch_mode_of(method: str) -> str:
    """The scoring protocol an exported graph of this method computes (its metadata_props['batch_mode'])."""
    # wildgan: E's minibatch stddev couples a batch, the graph scores each image as a batch of copies of itself;
    # f-AnoGAN: eval-mode networks, a score never depended on the batch
    return "independent" if method == "fanogan" else "isolated"


def _conversion(run_dir: Path) -> dict[str, Any]:
    from .data import conversion_opts

    p = run_dir / "split.json"
    return conversion_opts(json.loads(p.read_text())) if p.is_file() else {}


def _add_metadata(path: Path, meta: dict[str, Any]) -> None:
    import onnx

    m = onnx.load(str(path))
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v if isinstance(v, str) else json.dumps(v)
    onnx.save(m, str(path))


def onnx_metadata(path: str | Path) -> dict[str, str]:
    """The metadata_props of an exported model (values are strings; JSON for non-strings)."""
    import onnx

    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


__all__ = ["ScoringGraph", "FAnoGANScoringGraph", "batch_mode_of", "scoring_graph", "export_onnx", "onnx_metadata", "output_names", "INPUT_TYPES"]
