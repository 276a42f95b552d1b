"""Issue 29 item 6: the DARTS mini supernet's Kendall tau against stand-alone-trained
genotypes, SPOS and landmark regularisation paired over 5 seeds (experiments/README.md
section 17, "DARTS genotypes in the search network").

130 distinct canonical genotypes (`jaxnas standalone --config configs/standalone.py:mini,darts
--archs 130`'s draw) are trained stand-alone in DARTS's search network at the mini supernet's
scale: the first 100 are the evaluation table (parts `gt_a`, `gt_b`: one core each), the other
30 the landmark arm's ground truth (`gt_lm`), so both arms are ranked on the same 100. The
first 20 are trained again with seed 1 (`gt_seed1a` and `gt_seed1b`, 10 each, one on each
core after its supernet arms): the table's own noise. Beside the two arms, SPOS trained 20 and
50 epochs instead of 5 (`darts_spos_e20`, `_e50`) asks whether a longer-trained supernet ranks
better, and landmark at 20 epochs (`darts_landmark_e20`, paired with `darts_spos_e20`) whether
the regulariser helps one that does. The run spans sessions of a 2-core machine (about 20
hours), so its progress lives in the repository (`standalone_parts`: `save` / `restore` copy
each part's small files, never replacing progress with less); the supernet arms keep their
reports in `experiments/results/paired/darts_*`.

    bash experiments/darts_tau.sh DATA                       # all of it, resumable
    python experiments/darts_tau.py cells workdirs/darts_tau   # the genotype lists
    python experiments/darts_tau.py save workdirs/darts_tau experiments/results/darts_tau
    python experiments/darts_tau.py restore experiments/results/darts_tau workdirs/darts_tau
    python experiments/darts_tau.py table workdirs/darts_tau   # gt.csv: gt_a + gt_b, finished
        # (`save` writes it beside the parts too: the committed copy of the truth the arms'
        # reports name as workdirs/darts_tau/gt.csv)
    python experiments/darts_tau.py report experiments/results/darts_tau
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "experiments")]  # this checkout's jaxnas, standalone_parts
from jaxnas import spaces
from jaxnas.analysis import compare, proxy
from jaxnas.config import load_config
from jaxnas.errors import UsageError
from jaxnas.evaluate import groundtruth
from jaxnas.train import standalone
import standalone_parts

PLAN = {"gt_a": (0, 65), "gt_b": (65, 100), "gt_lm": (100, 130), "gt_seed1a": (0, 10),
        "gt_seed1b": (10, 20)}
PARTS = tuple(PLAN)
EVAL_PARTS = ("gt_a", "gt_b")
SEED1_PARTS = ("gt_seed1a", "gt_seed1b")
PAIRED = ROOT / "experiments" / "results" / "paired"
# base arm -> the arms the report pairs with it, each over the seeds both have finished (at
# least 2). e20, e50: SPOS trained 20 or 50 epochs instead of 5 (does a longer-trained supernet
# rank better? e50 against e20: does the trend go on?); landmark_e20 against its own 20-epoch
# base.
COMPARISONS = {"darts_spos": ("darts_landmark", "darts_spos_e20", "darts_spos_e50"),
               "darts_spos_e20": ("darts_landmark_e20", "darts_spos_e50")}


def genotypes():
    """The 130 genotypes' canonical texts in training order."""
    config = load_config(f"{ROOT / 'configs' / 'standalone.py'}:mini,darts")
    config.archs.num = 130
    space = spaces.get("darts")
    return [space.to_str(a) for a in standalone.select_archs(config, space)]


def write_cells(out):
    names = genotypes()
    out.mkdir(parents=True, exist_ok=True)
    for part, (lo, hi) in PLAN.items():
        (out / f"genotypes_{part.removeprefix('gt_')}.txt").write_text(
            "".join(n + "\n" for n in names[lo:hi]))
    print(f"wrote the genotype lists of {', '.join(PARTS)} in {out}")


def _rows(path, diverged=False):
    """A part's table rows so far; with `diverged`, the rows of diverged cells too."""
    return groundtruth.read_standalone_rows(path, diverged=diverged) if path.is_file() else []


def write_table(work, out):
    """The evaluation table (`gt_a` then `gt_b`) as one CSV; UsageError while either part is
    unfinished (an arm ranked on part of it would not pair with one ranked on all)."""
    rows = []
    for part in EVAL_PARTS:
        lo, hi = PLAN[part]
        got = _rows(work / part / "table.csv", diverged=True)
        if len(got) < hi - lo:
            raise UsageError(f"{work / part}: {len(got)} of {hi - lo} genotypes trained")
        rows += got
    groundtruth.write_standalone_table(rows, out)
    print(f"wrote {out} ({len(rows)} genotypes)")


def report(results, paired=PAIRED):
    """The numbers so far: JSON-ready dict."""
    out = {"trained": {p: [len(_rows(results / p / "table.csv", diverged=True)), hi - lo]
                       for p, (lo, hi) in PLAN.items()}}
    out["rate"] = standalone_parts.rate([s for p in PARTS for s in
                                         standalone_parts.training_seconds(results / p)])
    table = [r for p in EVAL_PARTS for r in _rows(results / p / "table.csv")]
    if len(table) < 3:
        return out
    valid = {r["arch"]: r["valid_acc"] for r in table}
    out["valid_acc"] = {"min": min(valid.values()), "median": float(np.median(list(
        valid.values()))), "max": max(valid.values())}
    for column in ("params", "flops"):
        out[f"{column}_vs_table"] = proxy.agreement({r["arch"]: r[column] for r in table},
                                                    valid)
    out["convergence"] = proxy.convergence(standalone_parts.curves(results, EVAL_PARTS), valid)
    seed1 = {r["arch"]: r["valid_acc"] for p in SEED1_PARTS
             for r in _rows(results / p / "table.csv")}
    both = sorted(set(seed1) & set(valid))
    if len(both) >= 3:
        out["seed1_vs_seed0"] = proxy.seed_agreement(seed1, valid)
        # its yardstick: the parameter count against each seed on the same genotypes
        params = {r["arch"]: r["params"] for r in table}
        out["params_vs_seeds"] = {"seed0": proxy.agreement(params, valid, both),
                                  "seed1": proxy.agreement(params, seed1, both)}
    out["arms"] = []
    for base, arms in COMPARISONS.items():
        arms = [paired / a for a in arms if len(list((paired / a).glob("seed*.final.json"))) >= 2]
        if arms and any((paired / base).glob("seed*.final.json")):
            try:
                out["arms"].append(compare.compare(paired / base, arms, common_seeds=True))
            except UsageError as error:
                out.setdefault("arms_pending", []).append(str(error))
    return out


def markdown(r):
    tau = standalone_parts.tau_text
    lines = ["Genotypes trained: " + ", ".join(f"{p} {n} of {m}" for p, (n, m)
                                                in r["trained"].items()) + ".", ""]
    if r.get("rate"):
        lines += [standalone_parts.rate_text(r["rate"], "genotype", "genotypes", 20), ""]
    if "valid_acc" not in r:
        return "\n".join(lines) + "\n"
    v = r["valid_acc"]
    lines += [(f"Held-out accuracy of the evaluation table: {v['min']:.2f} to {v['max']:.2f}, "
               f"median {v['median']:.2f}."), "",
              "| ranking | Kendall tau [95% bootstrap interval] (genotypes) |", "|---|---|",
              f"| parameter count vs the table | {tau(r['params_vs_table'])} |",
              f"| FLOPs vs the table | {tau(r['flops_vs_table'])} |"]
    if "seed1_vs_seed0" in r:
        lines.append(standalone_parts.seed_row(r["seed1_vs_seed0"], "the table"))
        lines += [f"| parameter count vs seed {k[-1]}, the same genotypes | "
                  f"{tau(r['params_vs_seeds'][k])} |" for k in ("seed0", "seed1")]
    if r["convergence"]:
        last = max(c["epoch"] for c in r["convergence"])
        lines += ["", "Held-out accuracy during training (the table's column is the last):", "",
                  "| epoch | genotypes | tau vs the table |", "|---|---|---|"]
        lines += [f"| {c['epoch']}{' (the table)' if c['epoch'] == last else ''} | "
                  f"{c['cells']} | {c['tau_final']:.3f} |" for c in r["convergence"]]
    if r["arms"]:
        lines += ["", "The arms' reports name their truth `workdirs/darts_tau/gt.csv`, the "
                  "evaluation table built from `gt_a` and `gt_b`: committed here as `gt.csv`."]
    lines += [line for c in r["arms"] for line in ("", compare.markdown(c))]
    lines += [x for e in r.get("arms_pending", []) for x in ("", f"Not compared yet: {e}.")]
    if not r["arms"] and "arms_pending" not in r:
        lines += ["", "Supernet arms: none with 2 seeds finished beside its base yet."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser, sub = standalone_parts.parser(__doc__)
    sub.add_parser("table").add_argument("work", type=Path)
    args = parser.parse_args(argv)
    if args.command == "cells":
        write_cells(args.out)
    elif args.command in ("save", "restore"):
        standalone_parts.copy_parts(args.src, args.dst, PARTS)
        if args.command == "save":  # the arms' truth (their reports name the workdir's copy)
            try:
                write_table(args.src, args.dst / "gt.csv")
            except UsageError as error:
                print(f"no gt.csv yet: {error}")
    elif args.command == "table":
        try:
            write_table(args.work, args.work / "gt.csv")
        except UsageError as error:
            sys.exit(f"darts_tau.py table: {error}")
    else:
        standalone_parts.write_report(args.results, report(args.results), markdown,
                                      standalone_parts.curves(args.results, EVAL_PARTS))


if __name__ == "__main__":
    main()
