"""Export a trained run's scoring graph (E, Gs, D's features and the scores) to ONNX for onnxruntime.

Covers wildgan runs (below) and f-AnoGAN runs (FAnoGANScoringGraph: izi_f encoder, G, the critic's features and the
same five scores; its networks are in eval mode, so every image is scored on its own and the graph equals
`wildgan score` on that run exactly: metadata batch_mode 'independent'). Latent search runs are an optimisation
loop, not a graph, and are refused.

Batch composition: E ends with a minibatch-stddev layer, so in the paper's 'mixed' protocol an image's score depends
on which images share its batch (wildgan.scoring.pgan_scores). A deployed graph cannot know how the caller will batch
(one image from a camera, a half-full last batch, a batch of nothing but anomalies), so the export uses the
'isolated' protocol instead: group size 1, every image's stddev feature is that of a batch of copies of itself.
Each output row then depends only on its input row, the batch axis is dynamic (any N >= 0, no padding, no mixing
rules for the caller), and the graph equals `LoadedModel.score(x, batch_mode='isolated')` and
`Detector(batch_mode='isolated')`. The cost: scores differ slightly from the paper's mixed protocol, so thresholds
for an exported model must come from isolated-mode training scores (Detector.from_run(run, batch_mode='isolated')
or run_training_scores(run_dir, batch_mode='isolated'), the cache train_scores-isolated.csv), never from the mixed
ones `wildgan score` uses by default. export_onnx(..., threshold='contamination' | 'mad') does this itself and
records the result in metadata_props (below; onnx_threshold reads it back).

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
and the run's image-conversion rule; with a threshold rule also threshold (the value: an image is an anomaly when
its threshold_score output is > it), threshold_rule, threshold_score and threshold_params (JSON: the rule's
parameters, the number of training images, batch_mode of the training scores = the graph's, and param_from where the
parameter is not the one passed: `wildgan export` of a Detector.fit run records "Detector.fit's record, PATH" when
it takes fit's c or k). Values are strings
(JSON for non-strings), as ONNX stores them.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import refuse_saved_detector
from .data.transforms import RESIZE_FILTER, u8_to_unit
from .errors import ConfigError, DataError, WildganError
from .fileio import atomic_write_by_name, is_stream, refuse_replacing_another_kind
from .scoring.pgan_scores import at_lod
from .scoring.scores import SCORES_VERSION, encoder_scores, fanogan_score
from .thresholds import Threshold

INPUT_TYPES = ("uint8", "float")
# the rules whose threshold comes from the run's training split alone (f1 needs a labelled validation set, which a
# run does not have)
THRESHOLD_RULES = ("contamination", "mad")


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

    refuse_saved_detector(run_dir, "scoring_graph", scoring_hint=False)
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


def _warn_unused_rule_params(threshold: str | None, contamination: float | None, mad_k: float | None,
                             score: str | None) -> None:
    """export_onnx's threshold parameters that its rule does not read, said to the Python caller as `wildgan export`
    says its options (cli.threshold_notes.warn_unused_threshold_options; the command passes only those read):
    without a rule, a contamination= given wrote a model without a threshold and nothing said so."""
    from .errors import warn_user

    if threshold is None:
        given = [f"{n}=" for n, v in (("contamination", contamination), ("mad_k", mad_k), ("score", score))
                 if v is not None]
        if given:
            warn_user(f"export_onnx: {', '.join(given)} only matter{'s' if len(given) == 1 else ''} with threshold= "
                      f"('contamination' or 'mad'): the model is written without a threshold")
        return
    unused = {"contamination": ("mad_k", mad_k), "mad": ("contamination", contamination)}.get(threshold)
    if unused is not None and unused[1] is not None:
        warn_user(f"export_onnx: {unused[0]}= is not used by threshold={threshold!r}")


def export_onnx(run_dir: str | Path, path: str | Path, batch_size: int = 64, opset: int = 17, *,
                input_type: str = "uint8", include_A: bool = True, checkpoint: str | Path | None = None,
                threshold: str | None = None, contamination: float | None = None, mad_k: float | None = None,
                score: str | None = None, device: str = "cpu", progress: bool = False,
                skip_bad: bool = False, param_from: str | None = None) -> Path:
    """Write the run's scoring graph to `path` (.onnx). `batch_size` is the example batch the graph is traced with;
    the batch axis stays dynamic (wildgan: isolated protocol; f-AnoGAN: every image on its own anyway). Needs the
    `onnx` extra (pip install onnx) to write metadata.

    threshold: None (no threshold in the metadata) or a rule of THRESHOLD_RULES, fitted to the run's training-split
    scores made with the graph's own protocol (export_threshold), for the output `score` (default: the method's own,
    A for f-AnoGAN, else a), with `contamination` / `mad_k` as in wildgan.thresholds.fit_threshold; recorded in
    metadata_props (module docstring; onnx_threshold reads it). The rule's parameter left as None is the one
    Detector.fit recorded in the run where it applies (export_fit_param, as `wildgan export --threshold` and
    Detector.from_run take it), else the default (c = 0.05, k = 3). When those scores are not cached in the run
    folder, the training split is scored on `device` (`progress`: a progress bar; skip_bad: its images unreadable
    since training are left out, see wildgan.thresholds.run_threshold). param_from: where the rule's parameter (c, k)
    came from when it is not the caller's own (Detector.fit's record), kept in threshold_params as param_from so that
    the loaded model says it; without it the parameter is the one passed."""
    refuse_saved_detector(run_dir, "export_onnx", scoring_hint=False)
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    _warn_unused_rule_params(threshold, contamination, mad_k, score)
    if threshold is not None:
        contamination, mad_k, param_from = _rule_params(run_dir, threshold, contamination, mad_k, checkpoint,
                                                        param_from)
        _check_threshold_rule(threshold, contamination, mad_k)
    lo, hi = _opset_range()
    if isinstance(opset, bool) or not isinstance(opset, int) or not lo <= opset <= hi:
        # (torch's own error comes after tracing, as a traceback of its exporter)
        raise ConfigError(f"opset must be an ONNX opset this torch exports for the scoring graph, {lo} to {hi}; got "
                          f"{opset!r} (the default, 17, is read by onnxruntime 1.12 and later)")
    if is_stream(path):
        raise ConfigError(f"{path}: not a regular file (a device, a pipe or standard output); the ONNX model is "
                          "written to a file")
    # before the tracing and the threshold's scoring, as `wildgan export --out` asks it: a path among the run's own
    # files (RUN/config.json, RUN/network-final.safetensors) or in a folder wildgan rewrites (RUN/report/) is refused
    from .training.run import refuse_a_run_or_study_file

    refuse_a_run_or_study_file(path, "model.onnx", label="export_onnx's path")
    # (an existing image or other file of the caller's is not replaced by the model; an earlier .onnx is)
    refuse_replacing_another_kind(path, (".onnx",), "an ONNX model", "model.onnx", label="export_onnx's path")
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        # checked first: without it torch's exporter fails with its own error (OnnxExporterError, not ImportError)
        # after the model has been traced
        raise WildganError("ONNX export needs the 'onnx' package: pip install 'wildgan[onnx]' (or pip install onnx)")
    graph, model = scoring_graph(run_dir, input_type=input_type, include_A=include_A, checkpoint=checkpoint)
    thr_meta: dict[str, Any] = {}
    if threshold is not None:
        # before tracing: scoring the training split is the slow part, and the step that can fail (moved images)
        # (the run's own data read again for its training scores: a refusal of damaged labels names mending them, not
        # dataset='unlabelled', an option of a Detector's, not export_onnx's; `wildgan export`'s setting stands)
        from .data.dataset_files import labels_needed_by

        with labels_needed_by("export", "export_onnx", unless_said=True):
            thr = export_threshold(run_dir, model, threshold, contamination=contamination, mad_k=mad_k, score=score,
                                   include_A=include_A, checkpoint=checkpoint, device=device, progress=progress,
                                   skip_bad=skip_bad)
        thr_meta = {"threshold": thr.value, "threshold_rule": thr.rule, "threshold_score": thr.params["score"],
                    "threshold_params": {**{k: v for k, v in thr.params.items() if k != "score"},
                                         **({"param_from": param_from} if param_from else {})}}
    r, c = model.cfg.net.resolution, model.cfg.net.channels
    gen = torch.Generator().manual_seed(0)
    if input_type == "uint8":
        example = torch.randint(0, 256, (batch_size, r, r, c), dtype=torch.uint8, generator=gen)
    else:
        example = torch.rand((batch_size, c, r, r), generator=gen) * 2 - 1
    names = output_names(include_A)
    path = Path(path)
    from . import __version__

    meta = {"wildgan_version": __version__, "scores_version": SCORES_VERSION,
            # absolute: the path as typed ('run/network-final.json') names nothing on the machine the model is taken to
            "wildgan_run": str(Path(run_dir).resolve()), "source": _absolute(model.source),
            "resolution": r, "channels": c,
            "method": model.cfg.method, "input_type": input_type,
            "input_layout": "NHWC uint8" if input_type == "uint8" else "NCHW float32 in [-1, 1]",
            "batch_mode": batch_mode_of(model.cfg.method), "lam": graph.lam,
            "kappa": graph.kappa, "lod": graph.lod, "outputs": names,
            "conversion": _conversion(Path(run_dir)), **thr_meta}
    doc = _doc_string(model.cfg.method, names, r, c, input_type, thr_meta)

    def write(tmp: Path) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript exporter deprecation / tracer notes: not the user's concern
            # dynamo=False: the TorchScript exporter needs no onnxscript; the graph is static apart from the batch axis
            dynamic = {"images": {0: "N"}, **{k: {0: "N"} for k in names}}
            torch.onnx.export(graph, (example,), str(tmp), input_names=["images"], output_names=names,
                              opset_version=int(opset), dynamic_axes=dynamic, do_constant_folding=True, dynamo=False)
        _add_metadata(tmp, meta, doc=doc)

    try:
        # a temp file of this export's own beside `path`, fsynced and renamed as fileio's atomic writes do: with one
        # fixed name (.NAME.tmp), two exports to one path at once wrote into the same file, and the first to finish
        # deleted the other's before its rename (a failed export, or a model of the two mixed)
        atomic_write_by_name(write, path)
    except WildganError:
        raise
    except ImportError as e:
        raise WildganError(f"ONNX export needs the 'onnx' package (pip install 'wildgan[onnx]'): {e}") from None
    return path


def export_fit_param(run_dir: str | Path, rule: str, *, checkpoint: str | Path | None = None
                     ) -> tuple[float | None, str]:
    """The c (rule 'contamination') or k ('mad') that Detector.fit recorded in the run, where an export of its
    networks (`checkpoint`, default the final ones) takes it, whatever score it thresholds (fit's c, k is the user's
    share of training images to flag, fitted again on the chosen score's training scores):
    (value, '') (thresholds.fit_record_param, the rule of `wildgan score --threshold` and Detector.from_run too);
    else (None, why a record of this rule is not taken, or ''), and the default applies. The one rule of export_onnx
    and `wildgan export`, so that both threshold a run alike. A record that cannot be read or used: ConfigError (or
    OSError), for the caller to say; a run whose networks cannot be read: (None, ''), scoring_graph says why."""
    from .checkpoint import read_meta
    from .scoring.run import final_checkpoint
    from .thresholds import fit_record_param

    try:
        own = read_meta(Path(checkpoint) if checkpoint else final_checkpoint(Path(run_dir))).get("sha256")
    except (WildganError, OSError):
        return None, ""
    return fit_record_param(Path(run_dir), rule, own)


def _rule_params(run_dir: str | Path, rule: str, contamination: float | None, mad_k: float | None,
                 checkpoint: str | Path | None, param_from: str | None) -> tuple[float, float, str | None]:
    """export_onnx's (contamination, mad_k, param_from): the rule's parameter not given is fit's record where
    export_fit_param takes it (param_from then names the record), else the default; the other one, unused, its
    default. Without this, export_onnx(run, threshold='contamination') took c = 0.05 where `wildgan export` and
    Detector.from_run took fit's recorded c."""
    from .thresholds import DEFAULT_CONTAMINATION, DEFAULT_MAD_K, FIT_THRESHOLD_FILE, follow_fit_record

    name = {"contamination": "contamination", "mad": "mad_k"}.get(rule) if isinstance(rule, str) else None
    given = {"contamination": contamination, "mad_k": mad_k}
    if name is not None and given[name] is None:
        record = Path(run_dir) / FIT_THRESHOLD_FILE
        default = DEFAULT_CONTAMINATION if name == "contamination" else DEFAULT_MAD_K
        value, _ = follow_fit_record(run_dir, rule, lambda r: export_fit_param(run_dir, r, checkpoint=checkpoint),
                                     fallback=f"export_onnx takes the default {name}={default:g}")
        if value is not None:
            given[name] = value
            param_from = param_from or f"Detector.fit's record, {record}"
    return (DEFAULT_CONTAMINATION if given["contamination"] is None else given["contamination"],
            DEFAULT_MAD_K if given["mad_k"] is None else given["mad_k"], param_from)


def _check_threshold_rule(rule: str, contamination: float, mad_k: float) -> None:
    from .thresholds import check_threshold_args

    if rule not in THRESHOLD_RULES:
        raise ConfigError(f"threshold rule for an export must be one of {THRESHOLD_RULES} (fitted to the run's "
                          f"training split), got {rule!r}" + ("; an F1-optimal threshold needs a labelled validation "
                                                              "set: fit it in Python (wildgan.thresholds."
                                                              "f1_threshold) on the exported graph's scores"
                                                              if rule == "f1" else ""))
    check_threshold_args(rule, contamination=contamination, k=mad_k)


def export_threshold(run_dir: str | Path, model: Any, rule: str, *, contamination: float = 0.05,
                     mad_k: float = 3.0, score: str | None = None, include_A: bool = True,
                     checkpoint: str | Path | None = None, device: str = "cpu",
                     progress: bool = False, skip_bad: bool = False) -> Threshold:
    """The threshold an exported graph of `model` (the run's LoadedModel, as scoring_graph returns it) needs: `rule`
    fitted to the run's training-split scores made with the graph's protocol, for the graph's output `score`.

    A wildgan graph scores each image alone, so the scores are the isolated ones (train_scores-isolated.csv, computed
    and cached when missing, as `wildgan score --batch-mode isolated --threshold RULE` does): the mixed ones of the
    default `wildgan score` differ slightly and would flag another share of images. f-AnoGAN has one protocol. The
    params also say which protocol (batch_mode, as the graph's metadata names it)."""
    from dataclasses import replace

    from .config import as_typed, own_score
    from .devices import resolve_device
    from .scoring.run import load_model
    from .scoring.train_scores import read_train_scores
    from .thresholds import run_threshold

    _check_threshold_rule(rule, contamination, mad_k)
    method = model.cfg.method
    score = own_score(method) if score is None else score
    outs = output_names(include_A)[:-1]                  # (z is not a score)
    if score not in outs:
        why = " (A is left out of this graph: include_A=False, the CLI's --no-A)" if score == "A" else ""
        # (as typed: `--score A` on the command line, a score's name to a Python caller)
        raise ConfigError(f"threshold score {as_typed(score)} is not an output of this graph{why}; it has "
                          f"{', '.join(outs)}")
    train_mode = "isolated" if method == "wildgan" else "mixed"    # (the cache name of f-AnoGAN's one protocol)
    scorer = model
    # read once and handed on: a cache that leaves unreadable files out names them, once
    cached = read_train_scores(Path(run_dir), model, train_mode, skip_bad=skip_bad)
    if cached is None and resolve_device(device) != model.device:
        # not cached: the split is scored on `device` (the export itself stays on the CPU)
        scorer = load_model(Path(run_dir), device, checkpoint=Path(checkpoint) if checkpoint else None)
    try:
        thr = run_threshold(scorer, Path(run_dir), rule, contamination=contamination, k=mad_k, score=score,
                            batch_mode=train_mode, progress=progress, train_scores=cached, skip_bad=skip_bad)
    except DataError as e:              # e.g. training images moved: the graph itself can still be exported
        raise DataError(f"{e}. The threshold needs those scores; export without one (threshold=None, the CLI "
                        f"without --threshold) and choose it elsewhere") from None
    return replace(thr, params={**thr.params, "batch_mode": batch_mode_of(method)})


def batch_mode_of(method: str) -> str:
    """The scoring protocol an exported graph of this method computes (its metadata_props['batch_mode'])."""
    # wildgan: E's minibatch stddev couples a batch, the graph scores each image as a batch of copies of itself;
    # f-AnoGAN: eval-mode networks, a score never depended on the batch
    return "independent" if method == "fanogan" else "isolated"


def _conversion(run_dir: Path) -> dict[str, Any]:
    from .data import conversion_opts

    p = run_dir / "split.json"
    conv = conversion_opts(json.loads(p.read_text())) if p.is_file() else {}
    # A reader without wildgan must resize as the run did: Pillow's own default filter (bicubic) moved a's by up to
    # 0.013 and flipped a flag against `wildgan score` (a 16x16 run scoring 32x32 CIFAR photos); bilinear: 1.5e-7
    return {**conv, "resample": RESIZE_FILTER.name.lower()}


def _absolute(source: str) -> str:
    """A model's source file as an absolute path; a source that is no path (the untrained networks) as it is."""
    path = Path(source)
    return str(path.resolve()) if path.suffix == ".json" or path.exists() else source


def _doc_string(method: str, names: list[str], r: int, c: int, input_type: str, thr_meta: dict[str, Any]) -> str:
    """The model's doc_string (onnxruntime: get_modelmeta().description): what goes in and what comes out, for a
    reader who has the model file and nothing else."""
    from . import __version__

    if input_type == "uint8":
        inp = (f"images: uint8 [N, {r}, {r}, {c}] (NHWC, 0..255, {'gray' if c == 1 else 'RGB'}), N >= 0, each "
               f"converted like the run's training images (metadata 'conversion')")
    else:
        inp = f"images: float32 [N, {c}, {r}, {r}] (NCHW) in [-1, 1] = pixel * 2/255 - 1, N >= 0"
    out = ", ".join(n for n in names if n != "z")
    thr = (f"; an image is an anomaly when its output {thr_meta['threshold_score']} > metadata 'threshold'"
           if "threshold" in thr_meta else "")
    return (f"wildgan {__version__} anomaly scores of a {method} run. Input {inp}. Outputs {out}: float32 [N], one "
            f"score per image, higher = more anomalous (docs/method.md); z: float32 [N, N_z], the encoder's latent "
            f"code. Rows are independent of each other{thr}.")


def _add_metadata(path: Path, meta: dict[str, Any], doc: str = "") -> None:
    import onnx

    m = onnx.load(str(path))
    m.doc_string = doc
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v if isinstance(v, str) else json.dumps(v)
    onnx.save(m, str(path))


def onnx_metadata(path: str | Path) -> dict[str, str]:
    """The metadata_props of an exported model (values are strings; JSON for non-strings)."""
    import onnx

    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def onnx_threshold(path: str | Path) -> Threshold | None:
    """The threshold export_onnx recorded in a model's metadata (None when it was exported without one): an image
    is an anomaly when its output named thr.params['score'] is > thr.value (thr.apply(outputs[...]) gives 0/1)."""
    meta = onnx_metadata(path)
    if "threshold" not in meta:
        return None
    try:
        params = json.loads(meta.get("threshold_params", "{}"))
        return Threshold.from_dict({"value": float(meta["threshold"]), "rule": meta.get("threshold_rule", "?"),
                                    "params": {**params, "score": meta.get("threshold_score", "a")}},
                                   from_file=True)       # (said in the metadata's JSON spelling: NaN, true, null)
    except (ValueError, TypeError, AttributeError, ConfigError) as e:   # (ConfigError: Threshold's own refusals, NaN)
        raise ConfigError(f"{path}: its threshold metadata cannot be read ({e})") from None


__all__ = ["ScoringGraph", "FAnoGANScoringGraph", "batch_mode_of", "scoring_graph", "export_onnx", "export_threshold",
           "onnx_metadata", "onnx_threshold", "output_names", "INPUT_TYPES", "THRESHOLD_RULES"]
