"""Study tables as pure functions of results.jsonl rows (so tables can be re-made without retraining).

Table 1 (paper layout): encoder loss x score, for the proposed method.
Table 2 (paper layout): method x score, one column per contamination gamma.
Table 3: one-vs-rest sweep, normal class x score (for the first gamma).
Every table gives mean +- std over seeds (the sample standard deviation, n - 1; n in brackets when n > 1) and the
controls as extra rows (Table 1, whose columns are scores: its pixel controls in a line under it).
Rows computed otherwise than the rest (`apart`: other scoring rules or score/search settings than the study command's,
study.scored_otherwise) are pooled with none: a mean of AUCs of different scores is no number of either, and a
footnote would leave that mean in the table. tables.md lists them after the tables, tables.csv marks them.
The paired comparisons between the methods' cells of one (normal, gamma, seed) (study.method_comparisons, kept in
comparisons.jsonl) are a section of tables.md and comparisons.csv, each entry shown only while it is of the rows as
they are (comparison_holds).
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from ..checkpoint import short_commit
from ..config import SearchConfig, own_score, thread_counts
from ..errors import warn_user
# the AUC-versus-gamma curves, their bands and figures live below (evaluation.gamma_curves: gamma_plots), so that
# `wildgan report STUDY_DIR` draws the study's own figures for a study that left none; the tables name the methods
# and controls as the figures do
from ..evaluation.gamma_curves import CONTROL_ROWS, METHOD_NAMES
from ..evaluation.gamma_curves import seed_key as _seed_key
from ..evaluation.metrics import PERMUTATION_BELOW, p_text, signed_text
from ..evaluation.rows import NOT_STUDY_ROWS, checked_lines, left_out_text, row_problem
from ..training.schedule import kimg_to_the_image
from ..markdown import md_escape, md_table

SCORES = ("A", "L_r", "L_n", "L_o", "a")

# Paper Table 2 (CIFAR_CAR, normal = automobile), per gamma; spec 4.6.
PAPER_CIFAR_CAR: dict[tuple[str, str], dict[float, float]] = {
    ("fanogan", "A"): {0.0: .45, 0.02: .44}, ("fanogan", "L_r"): {0.0: .41, 0.02: .40},
    ("fanogan", "L_n"): {0.0: .54, 0.02: .51}, ("fanogan", "L_o"): {0.0: .53, 0.02: .50},
    ("wildgan", "A"): {0.0: .49, 0.02: .47}, ("wildgan", "L_r"): {0.0: .42, 0.02: .41},
    ("wildgan", "L_n"): {0.0: .58, 0.02: .56}, ("wildgan", "L_o"): {0.0: .70, 0.02: .63},
    ("wildgan", "a"): {0.0: .72, 0.02: .64},
}
# Paper Table 1 (KTH cells, gamma 0): not the same data as chula-rbc12, shown for orientation only.
PAPER_TABLE1 = {"image": {"L_n": .78, "L_o": .89, "a": .90}, "latent": {"L_n": .66, "L_o": .69, "a": .66}}


def read_rows(path: Path, *, warn: bool = True) -> list[dict[str, Any]]:
    """The rows of a study's results.jsonl. A line that is no row (row_problem) is left out and, with warn, named with
    its line number and what is wrong in one warning (a caller that reads the file again in one command passes False
    after its first read). A torn last line (a study killed while it wrote it) is left out without a word, as its
    cell is simply not done (fileio.json_lines)."""
    rows, bad = checked_lines(path, row_problem)
    if bad and warn:
        warn_user(left_out_text(path, bad, NOT_STUDY_ROWS, where="of the study's tables")
                  + (". A study run with their cells evaluates those cells again (the lines are kept as they are): "
                     "fix or delete the lines to stop this warning" if len(bad) > 1 else
                     ". A study run with its cell evaluates that cell again (the line is kept as it is): fix or "
                     "delete the line to stop this warning"))
    return rows


def _stat(vals: list[float]) -> str:
    """Mean ± sample std (n) of the values that are numbers; None (a score the row does not hold) is no value. A nan
    (an AUC that is undefined: scores not finite on some test image, or one class in the test set) is left out of
    the mean and counted beside it: one of two seeds nan read '0.500', as a study of one seed, and all nan '–'."""
    given = [v for v in vals if v is not None]
    vals = [v for v in given if not (isinstance(v, float) and math.isnan(v))]
    nan = len(given) - len(vals)
    if not vals:
        return f"– ({nan} nan)" if nan else "–"
    m = sum(vals) / len(vals)
    if len(vals) == 1 and not nan:
        return f"{m:.3f}"
    n = f"n={len(vals)}" + (f" of {len(given)}: {nan} nan" if nan else "")
    if len(vals) == 1:
        return f"{m:.3f} ({n})"
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))
    return f"{m:.3f} ± {sd:.3f} ({n})"


def _per_seed(rows: Iterable[dict[str, Any]], value: Any) -> list[float]:
    """One value per seed. For the controls: the untrained networks of a method (same seed, same architecture) and
    the pixel statistics (the test set is drawn by the data seed) do not depend on the encoder loss or the method,
    so the cells of one seed hold copies of one number, and counting each copy would fake the sample size."""
    return list({_seed_key(r): value(r) for r in rows}.values())


def _gammas(rows: Iterable[dict[str, Any]]) -> list[float]:
    return sorted({float(r["gamma"]) for r in rows})


# The paper's CIFAR_CAR set-up, as the rows record it (rows of an earlier wildgan without these fields are taken as
# it): its numbers are of 32x32 RGB images, all 5000 training cars and its 2000-image test set, not of gray or resized
# CIFAR-10, of all 10,000 test images, or of a subset of CIFAR-10 (the protocol's test_size "paper" on the lossless
# 4000 + 1000-image subset tests 178 images, having trained on 366 cars)
PAPER_CIFAR_SETUP: dict[str, Any] = {"resolution": 32, "channels": 3, "test_size": "paper", "n_test": 2000,
                                     "n_normal_train": 5000, "rotations": 0}
_SETUP_WORDS = {"resolution": "32", "channels": "3, RGB", "test_size": "paper: 2000 test images", "n_test": "2000",
                "n_normal_train": "5000", "rotations": "0"}
_SETUP_NAMES = {"n_test": "test images", "n_normal_train": "normal training images"}


def _setup_value(r: dict[str, Any], k: str) -> Any:
    """A row's value of a PAPER_CIFAR_SETUP field (the normal training images: its training images less the
    contaminants, each image once however many rotated copies --rotations added), or None when the row does not
    record it."""
    if k == "n_normal_train":
        n, a = r.get("n_train"), r.get("n_train_anomalous")
        copies = 1 + (r.get("rotations") if isinstance(r.get("rotations"), int) else 0)
        return (n - a) // copies if isinstance(n, int) and isinstance(a, int) else None
    return r.get(k)


def _is_cifar_car(rows: list[dict[str, Any]]) -> bool:
    return bool(rows) and all(r.get("protocol") == "cifar10" and r.get("normal") == "automobile" for r in rows)


def _paper_setup_differs(rows: list[dict[str, Any]]) -> list[str]:
    """What of the paper's CIFAR_CAR set-up these rows differ in ('resolution 16 (the paper's 32)', ...)."""
    out = []
    for k, v in PAPER_CIFAR_SETUP.items():
        got = sorted({str(_setup_value(r, k)) for r in rows if _setup_value(r, k) not in (None, v)})
        if got:
            out.append(f"{_SETUP_NAMES.get(k, k.replace('_', ' '))} {', '.join(got)} (the paper's {_SETUP_WORDS[k]})")
    return out


def _paper_applies(rows: list[dict[str, Any]]) -> bool:
    return _is_cifar_car(rows) and not _paper_setup_differs(rows)


def table1(rows: list[dict[str, Any]], gamma: float) -> tuple[list[str], list[list[str]]]:
    """Encoder loss x score (proposed method only), at one gamma."""
    sel = [r for r in rows if r["method"] == "wildgan" and float(r["gamma"]) == gamma]
    header = ["encoder loss", *SCORES]
    body = []
    for enc, name in (("image", "d_I (image)"), ("latent", "d_z (latent)")):
        rs = [r for r in sel if r.get("encoder_loss") == enc]
        if rs:
            body.append([name] + [_stat([r["auc"].get(s) for r in rs]) for s in SCORES])
    for enc, name in (("image", "d_I"), ("latent", "d_z")):
        rs = [r for r in sel if r.get("encoder_loss") == enc]
        if rs:
            body.append([f"control: untrained nets ({name})"] +
                        [_stat([r["controls"]["untrained"].get(s) for r in rs]) for s in SCORES])
    return header, body


def pixel_controls_line(rows: list[dict[str, Any]]) -> str:
    """The pixel controls of the rows' test sets, one value per seed (_per_seed), as a line under a table whose
    columns are scores (Table 1), where a pixel statistic has no column of its own: without it Table 1's AUCs stood
    beside the untrained networks only, while -std Q is often the stronger control (CIFAR_CAR). Each seed's own test
    images, not "the same" ones: where the protocol draws the test split from a larger pool (CIFAR_CAR's 1,000 of the
    9,000 other test images), each seed draws its own (data.splits, SEED_STREAMS["test_draw"]), so the ± over seeds
    holds test-set noise too."""
    stats = ", ".join(f"{name} {_stat(_per_seed(rows, lambda r, k=key: r['controls'].get(k)))}"
                      for key, name in CONTROL_ROWS[1:])
    return f"Pixel controls on each seed's test images (its cells'): {stats}."


def table2(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Method x score, one column per gamma (+ the paper's number where the protocol matches)."""
    gammas = _gammas(rows)
    paper = _paper_applies(rows)
    header = ["method", "score"]
    for g in gammas:
        header.append(f"γ={g:g}")
        if paper:
            header.append(f"paper γ={g:g}")
    body = []
    methods = [m for m in ("fanogan", "search", "wildgan") if any(r["method"] == m for r in rows)]
    for m in methods:
        encs = sorted({r.get("encoder_loss", "image") for r in rows if r["method"] == m}) if m == "wildgan" else [None]
        for enc in encs:
            # the encoder loss named whenever it is not only the paper's d_I: a study of the d_z ablation alone
            # read as "Ours", the paper's method, with its paper column empty for no visible reason
            label = METHOD_NAMES[m] + (f" ({'d_I' if enc == 'image' else 'd_z'})"
                                       if m == "wildgan" and (len(encs) > 1 or enc != "image") else "")
            for s in SCORES:
                line = [label, s]
                for g in gammas:
                    rs = [r for r in rows if r["method"] == m and float(r["gamma"]) == g
                          and (enc is None or r.get("encoder_loss") == enc)]
                    line.append(_stat([r["auc"].get(s) for r in rs]))
                    if paper:
                        p = PAPER_CIFAR_CAR.get((m, s), {}).get(g) if enc in (None, "image") else None
                        line.append("–" if p is None else f"{p:.2f}")
                body.append(line)
            # the raw G beside Gs (spec 9.8), where the rows have it: Gs lags G by the EMA. Named by the generator
            # the rows record (cells scored with G have Gs beside them): "raw G" for those read "Gs (EMA)", as
            # tables.csv's G_a / Gs_a lines name them. L_o is E's alone, the same with either generator: no row of it
            ogs = [r["other_generator"] for r in rows if r["method"] == m and r.get("other_generator")
                   and (enc is None or r.get("encoder_loss") == enc)]
            if m == "wildgan" and ogs:
                gens = {str(og.get("generator") or "G") for og in ogs}
                gen_name = ("raw G" if gens == {"G"} else "Gs (EMA)" if gens == {"Gs"}
                            else "other generator (" + " / ".join(sorted(gens)) + ")")
                for s in ("A", "L_r", "L_n", "a"):
                    line = [f"{label}, {gen_name}", s]
                    for g in gammas:
                        rs = [r for r in rows if r["method"] == m and float(r["gamma"]) == g
                              and (enc is None or r.get("encoder_loss") == enc) and r.get("other_generator")]
                        line.append(_stat([r["other_generator"]["auc"].get(s) for r in rs]))
                        if paper:
                            line.append("–")
                    body.append(line)
    # Controls: each method's own untrained networks (same seed and architecture), then the pixel statistics.
    for m in methods:
        for s in SCORES:
            line = [f"control: untrained nets ({METHOD_NAMES[m]})", s]
            for g in gammas:
                rs = [r for r in rows if float(r["gamma"]) == g and r["method"] == m]
                line.append(_stat(_per_seed(rs, lambda r: r["controls"]["untrained"].get(s))))
                if paper:
                    line.append("–")
            body.append(line)
    for key, name in CONTROL_ROWS[1:]:
        line = [f"control: {name}", "–"]
        for g in gammas:
            # pixel statistics depend only on the test set, i.e. on the data seed: one value per seed
            line.append(_stat(_per_seed([r for r in rows if float(r["gamma"]) == g], lambda r: r["controls"].get(key))))
            if paper:
                line.append("–")
        body.append(line)
    return header, body


def table3(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]] | None:
    """One-vs-rest sweep: normal class x score (proposed method, image loss, lowest gamma), with controls, and a last
    row of the mean over the classes of each column's per-class mean over seeds (the number one-vs-rest studies
    report; each class counts once, whatever its number of seeds; a column's mean is over the classes that have it,
    and its label says over how many)."""
    normals = sorted({r["normal"] for r in rows})
    if len(normals) < 2:
        return None
    g = _gammas(rows)[0]
    sel = [r for r in rows if r["method"] == "wildgan" and r.get("encoder_loss", "image") == "image"
           and float(r["gamma"]) == g]
    # every control, as in Table 2: -std Q and -mean Q are the strongest pixel baselines on CIFAR
    header = ["normal class", *SCORES, "untrained a", "-‖Q‖", "-std Q", "-mean Q"]
    columns: list[Any] = [*(lambda r, s=s: r["auc"].get(s) for s in SCORES),
                          lambda r: r["controls"]["untrained"].get("a"),
                          *(lambda r, k=k: r["controls"].get(k) for k in ("pixel_norm", "pixel_std", "pixel_mean"))]
    body = []
    class_means: list[list[float]] = [[] for _ in columns]
    for n in normals:
        rs = [r for r in sel if r["normal"] == n]
        if rs:
            body.append([n] + [_stat([col(r) for r in rs]) for col in columns])
            for means, col in zip(class_means, columns):
                vals = _numbers(col(r) for r in rs)
                if vals:
                    means.append(sum(vals) / len(vals))
    if len(body) > 1:
        counts = {len(m) for m in class_means if m}
        k = f"{min(counts)}-{max(counts)}" if len(counts) > 1 else str(counts.pop() if counts else 0)
        body.append([f"mean over {k} classes"] + [f"{sum(m) / len(m):.3f}" if m else "–" for m in class_means])
    return header, body


def _numbers(vals: Iterable[Any]) -> list[float]:
    """The values that are numbers, not None or nan (as _stat counts them)."""
    return [float(v) for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]


def render_markdown(rows: list[dict[str, Any]], apart: dict[str, str] | None = None,
                    comparisons: list[dict[str, Any]] | None = None) -> str:
    """tables.md content for a list of result rows; apart: {cell: how it was computed otherwise} for the rows left
    out of the tables and listed after them (see the module's docstring); comparisons: the paired tests between the
    methods' cells (comparisons.jsonl), a section under each Table 2 (none: no section)."""
    apart = apart or {}
    left_out = [r for r in rows if str(r["cell"]) in apart]
    rows = [r for r in rows if str(r["cell"]) not in apart]
    if left_out:
        note = (f"**{len(left_out)} row{'s are' if len(left_out) > 1 else ' is'} left out of these tables**: "
                f"computed otherwise than the study command that wrote them computes its cells (other scoring rules "
                f"or score settings), so that no mean pools AUCs of different scores. Listed at the end; run the "
                f"study with their cells to evaluate them again.")
    if not rows:
        return "\n".join(["# Study results", "", "No finished cells yet.", ""]
                         + ([note, "", *_left_out_section(left_out, apart)] if left_out else []))
    parts = ["# Study results", "",
             "ROC AUC (anomaly = positive class, scores never flipped), mean ± std over seeds (sample std, n − 1). "
             "Controls: the same architecture with its untrained initial weights, and pixel statistics of the "
             "query; a trained score means little unless it beats them (a control below 0.5 is as informative "
             "with its sign flipped: compare with 1 − AUC too).", ""]
    if left_out:
        parts += [note, ""]
    # (a normal class and a source are named by the user's folders and files: escaped, so that they read as named)
    protocols = sorted({f"{md_escape(r.get('protocol'))} (normal = {md_escape(r['normal'])})" for r in rows})
    parts += [f"Data: {', '.join(protocols)}. Cells: {len(rows)}.", _data_lines(rows), _training_line(rows),
              _made_by_line(rows), ""]
    sure = uncertainty_line(rows)
    if sure:
        parts += [sure, ""]
    for key in sorted({(r.get("protocol"), r["normal"]) for r in rows}, key=str):
        sub = [r for r in rows if (r.get("protocol"), r["normal"]) == key]
        parts += [f"## {md_escape(key[0])}, normal = {md_escape(key[1])}", ""]
        if any(r["method"] == "wildgan" for r in sub):
            for g in _gammas(sub):
                h, b = table1(sub, g)
                if b:
                    parts += [f"### Table 1 layout: encoder loss × score (γ = {g:g})", "", md_table(h, b), "",
                              pixel_controls_line([r for r in sub if r["method"] == "wildgan"
                                                   and float(r["gamma"]) == g]), ""]
            if key[0] == "chula-rbc12":
                paper = "; ".join(f"{'d_I' if loss == 'image' else 'd_z'}: " + ", ".join(
                    f"{k} {v:.2f}".replace(" 0.", " .") for k, v in t.items()) for loss, t in PAPER_TABLE1.items())
                parts += [f"Paper Table 1 (KTH cells, another data set, for orientation): {paper}.", ""]
        h, b = table2(sub)
        parts += ["### Table 2 layout: method × score × γ", "", md_table(h, b), ""]
        parts += comparison_section(sub, comparisons or [])
        if _is_cifar_car(sub) and not _paper_applies(sub):
            # said, so that the missing paper columns do not read as the paper having no numbers for CIFAR_CAR
            parts += ["The paper's CIFAR_CAR numbers are not shown: these cells differ from its set-up in "
                      + "; ".join(_paper_setup_differs(sub)) + ".", ""]
    h3 = table3(rows)
    if h3:
        parts += [f"## One-vs-rest sweep (proposed method, image loss d_I, γ = {_gammas(rows)[0]:g})", "",
                  md_table(*h3), ""]
    if left_out:
        parts += _left_out_section(left_out, apart)
    return "\n".join(parts)


def uncertainty_line(rows: list[dict[str, Any]]) -> str | None:
    """What one cell's AUC is worth on its test images: the half-widths of the rows' 95% intervals of their method's
    own score (auc_ci, a row's auc_ci95), as a line under the data lines; None where no row holds them (rows of a
    wildgan before they were kept). A mean over seeds is surer than one cell, but seeds add their own spread."""
    half = [h for h in (_ci_half(r, own_score(r["method"])) for r in rows) if h is not None]
    if not half:
        return None
    span = f"±{min(half):.3f}" if max(half) - min(half) < 0.0005 else f"±{min(half):.3f} to ±{max(half):.3f}"
    return (f"One cell's AUC of its method's own score is worth {span} on its test images (95% interval, "
            f"DeLong logit + Newcombe score; each row's auc_ci95 in results.jsonl, and auc_vs_controls: a "
            f"paired test against every control, DeLong's, or a permutation test where a class has under "
            f"{PERMUTATION_BELOW} images). "
            f"That leaves out the spread between seeds (their training, and their test images where each seed "
            f"draws its own), which the ± of several seeds shows.")


def _left_out_section(rows: list[dict[str, Any]], apart: dict[str, str]) -> list[str]:
    """The rows render_markdown leaves out of the tables, each with its method's own AUC and how it was computed
    otherwise ('score.lam: 0.2 -> 0.05': the row's value, then the tables')."""
    # (a cell's name holds its normal class, a user's folder name: escaped, md_table escapes its pipes)
    body = [[md_escape(r["cell"], pipe=False), r["method"], f"{float(r['gamma']):g}", r["seed"],
             _stat([r["auc"].get(own_score(r["method"]))]) + f" ({own_score(r['method'])})", apart[str(r["cell"])]]
            for r in rows]
    return ["## Rows left out of the tables: computed otherwise", "",
            md_table(["cell", "method", "γ", "seed", "AUC", "computed otherwise (the row's -> the tables')"], body),
            ""]


def _data_lines(rows: list[dict[str, Any]]) -> str:
    """Which file and how many images: a subset detected as a protocol (e.g. 366 CIFAR cars) must not read as the
    paper's 5000/2000 set-up."""
    # each path with the sha256 of the bytes its cells read (a row's data_sha256), so that two studies' tables say
    # whether they were made from the same data, not only from the same path; two of one path: it changed between cells
    shas: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r.get("data") and isinstance(r.get("data_sha256"), str):
            shas[str(r["data"])].add(r["data_sha256"][:12])

    def named(path: str) -> str:
        got = sorted(shas.get(path, ()))
        if not got:
            return path
        return f"{path} (sha256 {', '.join(got)}{'; the cells read different bytes' if len(got) > 1 else ''})"

    sources = [md_escape(named(p)) for p in sorted({str(r["data"]) for r in rows if r.get("data")})]
    sizes = []
    for g in _gammas(rows):
        sel = [r for r in rows if float(r["gamma"]) == g and r.get("n_train") is not None]
        if sel:
            def span(k: str) -> str:
                v = sorted({int(r[k]) for r in sel if r.get(k) is not None})
                return "?" if not v else f"{v[0]}" if len(v) == 1 else f"{v[0]}-{v[-1]}"
            sizes.append(f"γ = {g:g}: {span('n_train')} training images ({span('n_train_anomalous')} anomalous), "
                         f"{span('n_test')} test ({span('n_anomalous')} anomalous)")
    return (f"Source: {', '.join(sources)}. " if sources else "") + ("; ".join(sizes) + "." if sizes else "")


def _made_by_line(rows: list[dict[str, Any]]) -> str:
    """'Seeds: 0, 1, 2. Trained by wildgan V (source C), torch T, on N intra-op threads.' from the rows (their
    seed, versions and intra_op_threads): two studies' tables of one command made on two machines had the same
    header over different AUCs, the code and thread count that made them only in results.jsonl. Values the cells
    differ in are all listed, with '(cells differ)'; rows that record none (an older wildgan's) are counted."""
    seeds = sorted({int(r["seed"]) for r in rows if isinstance(r.get("seed"), int)})
    line = f"Seeds: {', '.join(map(str, seeds)) or '?'}."
    versions = [r["versions"] if isinstance(r.get("versions"), dict) else {} for r in rows]
    # each row's counts ('1 then 2': a cell resumed under another count), None for a row that records none
    threads = [" then ".join(map(str, c)) if (c := thread_counts(r.get("intra_op_threads"))) else None for r in rows]
    wildgan = [(f"{v['wildgan']} (source {short_commit(str(v['wildgan_source']))})" if v.get("wildgan_source")
                else str(v["wildgan"])) if v.get("wildgan") else None for v in versions]

    def listed(values: list[Any]) -> str | None:
        got = sorted({str(v) for v in values if v is not None})
        return None if not got else " / ".join(got) + (" (cells differ)" if len(got) > 1 else "")

    said = [f"{name} {text}" for name, text in (("wildgan", listed(wildgan)),
                                                 ("torch", listed([v.get("torch") for v in versions])))
            if text]
    counts = sorted({t for t in threads if t is not None}, key=lambda t: [int(c) for c in t.split(" then ")])
    if counts:
        said.append(f"on {' / '.join(counts)} intra-op thread{'' if counts == ['1'] else 's'}"
                    + (" (cells differ)" if len(counts) > 1 else ""))
    if not said:
        return f"{line} Versions and thread count not recorded (rows of an older wildgan)."
    bare = sum(not v and t is None for v, t in zip(versions, threads))
    return (f"{line} Trained by {', '.join(said)}"
            + (f"; {bare} row{'s record' if bare > 1 else ' records'} neither (an older wildgan's)" if bare else "")
            + " (each row's versions and intra_op_threads in results.jsonl).")


def _training_line(rows: list[dict[str, Any]]) -> str:
    """How long the networks trained (a short run and the paper's schedule give different tables)."""
    pg = [r for r in rows if r.get("method") != "fanogan"]
    presets = sorted({str(r.get("preset")) for r in pg if r.get("preset")})
    # rounded to 0.1 kimg before kimg_to_the_image, unlike a message's kimg (to the image): a summary of the cells'
    # length beside the paper's "about 4,000", where cells whose last round ended a few images apart (44.032 and
    # 44.016 kimg) are one length, not "44.016 to 44.032 kimg (cells differ)"; and the tables.md files kept in
    # docs/results (re-rendered from their rows by the tests) say it so. Below 1 kimg, to the image: a short study's
    # 0.05 kimg read as "0.1 kimg per cell", twice its length
    kimg = sorted({round(float(r["kimg"]), 1 if float(r["kimg"]) >= 1 else 3) for r in pg
                   if r.get("kimg") is not None})
    length = ("length unknown" if not kimg else f"{kimg_to_the_image(kimg[0])} kimg" if len(kimg) == 1
              else f"{kimg_to_the_image(kimg[0])} to {kimg_to_the_image(kimg[-1])} kimg (cells differ)")
    line = (f"Training: {', '.join(presets) or '?'} preset, {length} per cell (the paper trained about 4,000 kimg "
            f"at 32x32). Networks: {_networks_words(pg)}." if pg else "")
    short = sorted((float(r["lod"]), r["cell"]) for r in pg if float(r.get("lod") or 0) > 0)
    if short:
        lods = sorted({round(lod, 3) for lod, _ in short})
        line += (f" **{len(short)} of {len(pg)} cells never reached full resolution** (stopped at lod "
                 f"{', '.join(f'{v:g}' for v in lods)}; full resolution is lod 0): they are scored at the resolution "
                 f"they reached, so their AUCs are not those of the method at the data's resolution (e.g. "
                 f"{md_escape(short[0][1])}); train longer.")
    fa = [r for r in rows if r.get("method") == "fanogan"]
    if fa:
        # a study of f-AnoGAN cells alone has its own "Training:" line: the header's other lines start with their name,
        # and a line of "f-AnoGAN: ..." alone read as no training line at all
        line += f" f-AnoGAN: {_fanogan_words(fa)}." if pg else f"Training: f-AnoGAN, {_fanogan_words(fa)}."
    # a search cell's AUCs depend on how long each test image's latent was searched as much as on the training: a
    # study scored with --search-steps 10 must not read as one with AnoGAN's 500
    steps = sorted({int(r["score_settings"]["search.steps"]) for r in rows if r.get("method") == "search"
                    and isinstance(r.get("score_settings"), dict)
                    and isinstance(r["score_settings"].get("search.steps"), int)})
    if steps:
        line += (f" Latent search: {', '.join(map(str, steps))} Adam steps per test image"
                 f"{' (cells differ)' if len(steps) > 1 else ''} (AnoGAN's {SearchConfig.steps}).")
    return line.strip()


def _networks_words(pg: list[dict[str, Any]]) -> str:
    """'width 8, latent size 8' of the pGAN cells' rows (their networks' fmap_max and N_z): --width and --latent-size
    change them under the same preset name, so the preset alone did not say which networks gave the AUCs. Values the
    cells differ in are all listed; rows that record none (an older wildgan's) are counted."""
    nets = sorted({(r["width"], r["latent_size"]) for r in pg
                   if isinstance(r.get("width"), int) and isinstance(r.get("latent_size"), int)})
    if not nets:
        return "width and latent size not recorded (rows of an older wildgan)"
    bare = sum(not (isinstance(r.get("width"), int) and isinstance(r.get("latent_size"), int)) for r in pg)
    return (" / ".join(f"width {w}, latent size {z}" for w, z in nets) + (" (cells differ)" if len(nets) > 1 else "")
            + (f" ({bare} row{'s record' if bare > 1 else ' records'} neither: an older wildgan's)" if bare else ""))


def _fanogan_iters(r: dict[str, Any]) -> tuple[int, int] | None:
    """A row's f-AnoGAN (critic, encoder) iterations; None where it records none: no fanogan_iters, or [null, null]
    (a row of a checkpoint that did not say them), which beside a row's numbers stopped the tables with a TypeError
    in their sort, and was written to tables.csv as 'None+None'."""
    its = r.get("fanogan_iters")
    if not isinstance(its, (list, tuple)) or len(its) != 2 or \
            any(isinstance(v, bool) or not isinstance(v, int) for v in its):
        return None
    return int(its[0]), int(its[1])


def _fanogan_words(fa: list[dict[str, Any]]) -> str:
    """'DIM 64, 400 critic + 400 encoder iterations per cell' of the f-AnoGAN cells' rows: their networks' width
    (--fanogan-dim, a row's fanogan_dim) beside their length, as the pGAN cells' width beside theirs; values the cells
    differ in all listed, and what no row records said so."""
    dims = sorted({r["fanogan_dim"] for r in fa if isinstance(r.get("fanogan_dim"), int)})
    its = sorted({p for p in map(_fanogan_iters, fa) if p is not None})
    if not dims and not its:
        return "DIM and iterations not recorded"
    dim = (f"DIM {' / '.join(map(str, dims))}{' (cells differ)' if len(dims) > 1 else ''}" if dims
           else "DIM not recorded")
    length = (", ".join(f"{a} critic + {b} encoder iterations" for a, b in its)
              + (" (cells differ)" if len(its) > 1 else "") + " per cell") if its else "iterations not recorded"
    return f"{dim}, {length}"


def render_csv(rows: list[dict[str, Any]], apart: dict[str, str] | None = None) -> str:
    """One line per (cell, score): flat and easy to load in a spreadsheet. Each trained score's AUC has its 95%
    interval over the test images (auc_ci95_low/high, a row's auc_ci95) and the p of the paired test against the
    same score of the untrained networks (p_vs_untrained, a row's auc_vs_controls), as eval.json has them, with the
    test's name (p_test: DeLong, or a permutation test on a small test set, evaluation.metrics.auc_difference): the
    AUCs alone do not say how sure they are. Empty where the row keeps none (a pixel control, a row kept before
    they were). width and latent_size: a pGAN cell's networks (fmap_max, N_z); fanogan_dim: an f-AnoGAN cell's DIM.
    Its last column, computed_otherwise, says how a row left out of tables.md (apart: see the module's docstring) was
    computed otherwise; empty for the rest. A wildgan cell scored also with its other generator (a row's
    other_generator: the raw G beside Gs, tables.md's "raw G" rows) has a line per score of it, the score named
    with the generator (G_a, G_A, ...), its AP, interval and test empty (the row keeps its AUCs only)."""
    apart = apart or {}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["protocol", "normal", "gamma", "method", "encoder_loss", "seed", "score", "auc", "ap",
                "auc_untrained", "auc_ci95_low", "auc_ci95_high", "p_vs_untrained", "p_test", "kimg", "fanogan_iters",
                "lod", "width", "latent_size", "fanogan_dim", "computed_otherwise"])
    # in the order of the cells, not of their completion: a study extended with another gamma (or a cell finished
    # after a kill) gives the same file as one run of its final command
    rank = {"wildgan": 0, "fanogan": 1, "search": 2}          # (the methods in the tables' order)
    order = sorted(rows, key=lambda r: (str(r.get("protocol")), str(r["normal"]), float(r["gamma"]),
                                        rank.get(r["method"], 3), str(r["method"]), str(r.get("encoder_loss", "")),
                                        int(r["seed"])))
    for r in order:
        pair = _fanogan_iters(r)
        its = f"{pair[0]}+{pair[1]}" if pair is not None else ""   # critic + encoder (empty: not recorded)
        how = apart.get(str(r["cell"]), "")
        # the networks' width and latent size (a pGAN cell's), f-AnoGAN's DIM (empty where the row records none)
        nets = [str(r[k]) if isinstance(r.get(k), int) else "" for k in ("width", "latent_size", "fanogan_dim")]
        for s in SCORES:
            if s in r["auc"]:
                lo_hi = r["auc_ci95"][s] if _ci_half(r, s) is not None else (None, None)
                w.writerow([r.get("protocol"), r["normal"], r["gamma"], r["method"], r.get("encoder_loss", ""),
                            r["seed"], s, _f(r["auc"][s]), _f(r["ap"].get(s)),
                            _f(r["controls"]["untrained"].get(s)), _f(lo_hi[0]), _f(lo_hi[1]),
                            _f(_p_vs_untrained(r, s)), _p_test(r, s), _f(r.get("kimg")), its, _f(r.get("lod")),
                            *nets, how])
        # the other generator's AUCs (tables.md's "raw G" rows, spec 9.8), each a line of its own whose score names
        # the generator as test_controls.csv names its columns (G_a): tables.md showed them and this file did not,
        # and a line of its own (not a column) leaves every existing column and the lines of score "a" as they were
        og = r.get("other_generator")
        if isinstance(og, dict) and isinstance(og.get("auc"), dict):
            gen = str(og.get("generator") or "G")
            for s in SCORES:
                if s in og["auc"]:
                    w.writerow([r.get("protocol"), r["normal"], r["gamma"], r["method"], r.get("encoder_loss", ""),
                                r["seed"], f"{gen}_{s}", _f(og["auc"][s]), "", "", "", "", "", "",
                                _f(r.get("kimg")), its, _f(r.get("lod")), *nets, how])
        for k, _ in CONTROL_ROWS[1:]:
            w.writerow([r.get("protocol"), r["normal"], r["gamma"], r["method"], r.get("encoder_loss", ""),
                        r["seed"], k, _f(r["controls"].get(k)), _f(r.get("controls_ap", {}).get(k)), "", "", "", "", "",
                        _f(r.get("kimg")), its, _f(r.get("lod")), *nets, how])
    return buf.getvalue()


def _f(v: Any) -> str:
    return "" if v is None else f"{float(v):.6f}"


def _p(v: Any) -> str:
    # (6 significant digits, not places: DeLong's p of two cells' AUCs 0.37 apart on 400 images was 7.7e-26, which
    # comparisons.csv wrote as 0.000000, a p of exactly 0 that no test gives)
    return "" if v is None else f"{float(v):.6g}"


def _ci_half(r: dict[str, Any], score: str) -> float | None:
    """Half the width of a row's 95% interval of `score` (auc_ci95); None where the row holds none (kept before
    the intervals were) or it is undefined ([null, null])."""
    ci = r.get("auc_ci95")
    v = ci.get(score) if isinstance(ci, dict) else None
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        return (v[1] - v[0]) / 2
    return None


def _vs_untrained(r: dict[str, Any], score: str) -> dict[str, Any]:
    """A row's paired test of `score` against its untrained networks (auc_vs_controls); {} where it keeps none."""
    vs = r.get("auc_vs_controls")
    test = (vs.get(score) or {}).get("untrained") if isinstance(vs, dict) else None
    return test if isinstance(test, dict) else {}


def _p_vs_untrained(r: dict[str, Any], score: str) -> float | None:
    """The p of a row's paired test of `score` against its untrained networks; None where the row keeps none or it is
    undefined."""
    p = _vs_untrained(r, score).get("p")
    return float(p) if isinstance(p, (int, float)) and p == p else None


def _p_test(r: dict[str, Any], score: str) -> str:
    """The name of the test that p_vs_untrained is of; '' where there is no p. Rows kept before auc_difference named
    its test were all DeLong's."""
    if _p_vs_untrained(r, score) is None:
        return ""
    return str(_vs_untrained(r, score).get("test") or "DeLong")


def score_table(rows: list[dict[str, Any]], score: str) -> tuple[list[str], list[list[str]]]:
    """Table 2 (method x score x gamma) of one score: every method's `score` (and the raw G's where the rows have
    it), each method's untrained networks of that score, and the pixel controls, with the paper's numbers beside
    where its set-up applies. The table `wildgan report STUDY_DIR --score S` shows beside its figure: Table 2 lists
    every score, but a reader comparing L_r across methods had to pick its lines out by hand."""
    header, body = table2(rows)
    return header, [line for line in body if line[1] in (score, "–")]


def rows_lacking(rows: list[dict[str, Any]], score: str) -> dict[str, list[str]]:
    """{method: [cells]} of the rows whose AUCs hold no `score` at all (not even an undefined one): rows of another
    tool or edited by hand. A curve or table of that score for every method would leave those cells out without a
    word, so the caller refuses it instead, naming them."""
    out: dict[str, list[str]] = {}
    for r in rows:
        if score not in r["auc"]:
            out.setdefault(str(r["method"]), []).append(str(r["cell"]))
    return out


# === paired comparisons between the methods' cells (study.method_comparisons writes them, comparisons.jsonl) ==========

def cell_rank(r: dict[str, Any]) -> tuple[int, str, str]:
    """A row's place among its (normal, gamma, seed)'s cells, as the tables order methods: the first of a compared
    pair is the one ranked first (Ours before f-AnoGAN before the latent search; d_I before d_z)."""
    rank = {"wildgan": 0, "fanogan": 1, "search": 2}
    return rank.get(r["method"], 3), str(r["method"]), str(r.get("encoder_loss", ""))


def cell_label(r: dict[str, Any]) -> str:
    """'Ours d_I', 'f-AnoGAN', 'Latent search': a cell's method as a comparison names it."""
    enc = r.get("encoder_loss")
    return METHOD_NAMES.get(r["method"], r["method"]) + (
        f" d_{'I' if enc == 'image' else 'z'}" if r["method"] == "wildgan" else "")


def comparison_holds(c: dict[str, Any], by_cell: dict[str, dict[str, Any]]) -> bool:
    """Whether a kept comparison is of the rows as they are: both cells have a row whose AUC of the compared score is
    the one the comparison recorded. A cell evaluated again since (other scores) or whose row is gone or left out of
    the tables (computed otherwise) makes it stale: it is neither shown nor kept."""
    try:
        first, second = by_cell.get(str(c["first"])), by_cell.get(str(c["second"]))
        return (first is not None and second is not None and first["auc"].get(c["first_score"]) == c["first_auc"]
                and second["auc"].get(c["second_score"]) == c["second_auc"])
    except (KeyError, TypeError, AttributeError):
        return False


def _held(rows: list[dict[str, Any]], comparisons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_cell = {str(r["cell"]): r for r in rows}
    return [c for c in comparisons if isinstance(c, dict) and comparison_holds(c, by_cell)]


def comparison_section(rows: list[dict[str, Any]], comparisons: list[dict[str, Any]]) -> list[str]:
    """tables.md's lines of the paired comparisons between the cells of `rows` (one normal set): one line per gamma
    and compared pair of scores, the seeds pooled (the differences' mean, each seed's difference and p), then the
    pairs not compared and why. [] where there are none (a study of one method, rows kept without comparisons)."""
    held = _held(rows, comparisons)
    if not held:
        return []
    by_cell = {str(r["cell"]): r for r in rows}
    lines: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    skipped = []
    for c in held:
        if c.get("not_compared"):
            skipped.append(c)
            continue
        first, second = by_cell[str(c["first"])], by_cell[str(c["second"])]
        # (each pair of cells under its own scores first, then ours' L_r)
        lines[(float(c["gamma"]), cell_rank(first), cell_label(first), cell_rank(second), cell_label(second),
               c["first_score"] == "L_r", c["first_score"], c["second_score"])].append(c)
    body = []
    for key in sorted(lines):
        cs = sorted(lines[key], key=lambda c: int(c["seed"]))
        diffs = [c["diff"] for c in cs if isinstance(c.get("diff"), (int, float))]
        mean = sum(diffs) / len(diffs) if diffs else None
        each = ", ".join(f"s{c['seed']} {signed_text(c.get('diff'))} (p {p_text(c.get('p'))})" for c in cs)
        tests = sorted({str(c.get("test")) for c in cs if c.get("p") is not None})
        body.append([f"{key[0]:g}", f"{key[2]} {key[6]} − {key[4]} {key[7]}", len(cs), signed_text(mean), each,
                     " / ".join(tests) or "–"])
    out = ["### Paired comparisons between methods (the same test images)", ""]
    if body:
        out += ["Each method's own score against the other's on the same test images of the same normal set, γ and "
                "seed (the differences of AUC: first − second, with the p of the paired test of equal AUCs: "
                f"DeLong's, or a permutation test where a class has under {PERMUTATION_BELOW} test images); "
                "comparisons.csv has each "
                "one with its standard error.", "",
                md_table(["γ", "comparison (first − second)", "seeds", "mean diff", "each seed: diff (p)", "test"],
                         body), ""]
    if skipped:
        # (the cells' names hold their normal class, and why they were not compared may name a file: plain text
        # from comparisons.jsonl, which keeps it raw, escaped here)
        out += ["Not compared: " + "; ".join(f"{md_escape(c['first'])} vs {md_escape(c['second'])} ("
                                              f"{c['first_score']} − {c['second_score']}): "
                                              f"{md_escape(c['not_compared'])}" for c in skipped[:10])
                + (f"; and {len(skipped) - 10} more" if len(skipped) > 10 else "") + ".", ""]
    return out


def render_comparisons_csv(rows: list[dict[str, Any]], comparisons: list[dict[str, Any]]) -> str:
    """comparisons.csv: one line per compared pair of cells and scores (of the comparisons that hold for `rows`), in
    the order of the cells; not_compared says why a pair has no test (its cells' test images differ, a cell's scores
    were not kept, ...)."""
    held = _held(rows, comparisons)
    by_cell = {str(r["cell"]): r for r in rows}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["protocol", "normal", "gamma", "seed", "first_cell", "first_method", "first_encoder_loss",
                "first_score", "first_auc", "second_cell", "second_method", "second_encoder_loss", "second_score",
                "second_auc", "n_test", "diff", "se", "p", "test", "not_compared"])
    for c in sorted(held, key=lambda c: (str(c.get("protocol")), str(c["normal"]), float(c["gamma"]), int(c["seed"]),
                                         cell_rank(by_cell[str(c["first"])]), cell_rank(by_cell[str(c["second"])]),
                                         c["first_score"] == "L_r", str(c["first_score"]), str(c["second_score"]))):
        first, second = by_cell[str(c["first"])], by_cell[str(c["second"])]
        w.writerow([c.get("protocol"), c["normal"], c["gamma"], c["seed"], c["first"], first["method"],
                    first.get("encoder_loss", ""), c["first_score"], _f(c["first_auc"]), c["second"],
                    second["method"], second.get("encoder_loss", ""), c["second_score"], _f(c["second_auc"]),
                    c.get("n_test", ""), _f(c.get("diff")), _f(c.get("se")), _p(c.get("p")),
                    c.get("test", "") if c.get("p") is not None else "", c.get("not_compared", "")])
    return buf.getvalue()
