"""The mini ceiling (issue 30 item 3): NB201 cells trained stand-alone at the mini scale, and
what they say about NB201 and about every paired supernet arm.

The run spans many sessions of a 2-core machine (about 80 CPU-hours), so its progress lives in
the repository: `experiments/ceiling.sh` trains in `workdirs/ceiling/` and `save` copies each
part's small files (cells, config, table, metrics log; no checkpoints) to
`experiments/results/ceiling/`; on a fresh clone `restore` puts them back, and `--resume` skips
every cell its table holds (a cell cut off mid-training starts again). Both copy a part only
where the source is further along than the destination.

    python experiments/ceiling.py cells workdirs/ceiling        # the cell lists (deterministic)
    python experiments/ceiling.py save workdirs/ceiling experiments/results/ceiling
    python experiments/ceiling.py restore experiments/results/ceiling workdirs/ceiling
    python experiments/ceiling.py report experiments/results/ceiling
    python experiments/ceiling.py landmarks experiments/results/ceiling POOL  # landmark_pool.sh
    python experiments/ceiling.py seed0 workdirs/ceiling   # how many cells that pool would hold
    python experiments/ceiling.py package experiments/results/ceiling   # the shipped tables

The 300 cells: NB201's 200 fixed evaluation cells (`jaxnas evaluate --archs 200`) and 100 drawn
(seeded) from the paired arms' 1,000 evaluation cells (`--archs 1000`) outside them, so 133
cells carry every paired arm's stored scores. Training order: the three pilot cells (whose
100-epoch runs check convergence), the 133, then the rest, split between two parts (one core
each). The second seed trains the first 100 of that order, alternately in two parts
(`seed1a` after part a on core 0; `seed1b` on core 1, from 2026-12-07 before the rest of part
b, once part b held its share of the 133, so the seed-to-seed agreement is not left to the
last hours: 202 and 198 cells a core, where one part of 100 after part a left core 1 idle for
about 18 hours).
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "experiments")]  # this checkout's jaxnas, standalone_parts
from jaxnas.analysis import compare, proxy
from jaxnas.analysis.stats import format_ci
from jaxnas.errors import UsageError
from jaxnas.evaluate import groundtruth, scoring
from jaxnas.spaces import nb201
import standalone_parts

PILOT = (11711, 12414, 12994)  # experiments/README.md section 17: NB201 valid 91.2, 88.3, 69.0
SEED0_PARTS = ("seed0_a", "seed0_b")
SEED1_PARTS = ("seed1a", "seed1b")
PARTS = (*SEED0_PARTS, *SEED1_PARTS, "pilot_e100")
MINI_PARTS = {"nb201-mini": SEED0_PARTS, "nb201-mini-seed1": SEED1_PARTS}
BASES = ("spos_2560", "spos")  # the SPOS arms at 2,560 and 1,024 images a cell


def order():
    """The 300 cells' NB201 indices in training order (see the module docstring)."""
    fixed, paired = scoring.evaluation_archs(200), scoring.evaluation_archs(1000)
    extra = np.random.default_rng([0, 1]).choice(np.setdiff1d(paired, fixed), 100,
                                                 replace=False)
    both = [int(i) for i in np.intersect1d(fixed, paired) if i not in PILOT]
    rest = [int(i) for i in fixed if i not in set(both) | set(PILOT)]
    cells = [*PILOT, *both, *map(int, extra), *rest]
    assert len(cells) == len(set(cells)) == 300
    return cells


def write_cells(out):
    names = [nb201.arch_to_str(nb201.index_to_arch(i)) for i in order()]
    lists = {"a": names[:3] + names[3::2], "b": names[4::2], "seed1a": names[:100:2],
             "seed1b": names[1:100:2],
             "pilot": names[:3]}
    out.mkdir(parents=True, exist_ok=True)
    for name, cells in lists.items():
        (out / f"cells_{name}.txt").write_text("".join(n + "\n" for n in cells))
    print(f"wrote {', '.join(f'cells_{n}.txt ({len(c)})' for n, c in lists.items())} in {out}")


def _rows(path, diverged=False):
    """A part's table rows so far; with `diverged`, the rows of diverged cells too."""
    return groundtruth.read_standalone_rows(path, diverged=diverged) if path.is_file() else []


def seed0_rows(results):
    """The trained (not diverged) seed-0 rows so far: the pool `landmarks` writes."""
    return [r for part in SEED0_PARTS for r in _rows(results / part / "table.csv")]


def write_landmark_tables(results, out):
    """Issue 30 item 4's cheaper design (experiments/README.md section 17): the seed-0 table
    so far as `out/trained.csv` (the landmarks' mini stand-alone accuracies) and the same cells
    with NB201's x-valid accuracy as `out/nb201.csv` (columns arch, index, valid_acc: a landmark
    table, not a stand-alone one), so two landmark arms draw the same landmarks (a draw reads a
    table's cells, not its values) and differ only in their order."""
    rows = seed0_rows(results)
    if len(rows) < 2:
        raise SystemExit(f"ceiling.py landmarks: {len(rows)} trained cell(s) in {results}; "
                         "a landmark table needs at least 2")
    nb201 = proxy.nb201_values()
    out.mkdir(parents=True, exist_ok=True)
    groundtruth.write_standalone_table(rows, out / "trained.csv")
    (out / "nb201.csv").write_text("arch,index,valid_acc\n" + "".join(  # a landmark table only
        f"{r['arch']},{r['index']},{nb201[r['index']]!r}\n" for r in rows))
    print(f"wrote {out / 'trained.csv'} and {out / 'nb201.csv'} ({len(rows)} cells)")


def package_tables(results, out=ROOT / "jaxnas" / "resources"):
    """The tables `groundtruth.load_mini_table` ships: each seed's cells so far (diverged ones
    too, which the reader reports and skips), in index order, gzipped; a seed with none is not
    written. Returns {file name: cells}."""
    written = {}
    out.mkdir(parents=True, exist_ok=True)
    for name, parts in MINI_PARTS.items():
        rows = sorted((r for p in parts for r in _rows(results / p / "table.csv", diverged=True)),
                      key=lambda r: r["index"])
        if rows:
            file = groundtruth.MINI_TABLES[name]
            groundtruth.write_standalone_table(rows, out / file)
            written[file] = len(rows)
    print(f"wrote {', '.join(f'{f} ({n} cells)' for f, n in written.items())} in {out}")
    return written


def report(results, paired=ROOT / "experiments" / "results" / "paired"):
    """The ceiling's numbers from the tables in `results` so far, with every arm in `paired`
    (a folder of `run_paired.sh` result folders): JSON-ready dict."""
    nb201 = proxy.nb201_values()
    seed0 = {}
    for part in SEED0_PARTS:
        seed0.update({r["index"]: r for r in _rows(results / part / "table.csv")})
    seed1 = {r["index"]: r for p in SEED1_PARTS for r in _rows(results / p / "table.csv")}
    pilot = {r["index"]: r for r in _rows(results / "pilot_e100" / "table.csv")}
    diverged = [r["arch"] for part in (*SEED0_PARTS, *SEED1_PARTS)
                for r in _rows(results / part / "table.csv", diverged=True) if r["diverged"]]
    out = {"cells_seed0": len(seed0), "cells_seed1": len(seed1), "planned": [300, 100],
           "diverged": diverged, "rate": _rate(results, False),
           "rate_keep_malloc": _rate(results, True)}
    if len(seed0) < 3:
        return out
    valid = {i: r["valid_acc"] for i, r in seed0.items()}
    params = {i: r["params"] for i, r in seed0.items()}
    out["table_vs_nb201"] = proxy.agreement(valid, nb201)
    fixed = sorted(set(valid) & set(scoring.evaluation_archs(200).tolist()))
    out["table_vs_nb201_fixed200"] = proxy.agreement(valid, nb201, fixed)
    out["params_vs_nb201"] = proxy.agreement(params, nb201, sorted(valid))
    out["params_vs_table"] = proxy.agreement(params, valid)
    both = sorted(set(seed1) & set(seed0))
    if len(both) >= 3:
        valid1 = {i: r["valid_acc"] for i, r in seed1.items()}
        out["seed1_vs_seed0"] = proxy.seed_agreement(valid1, valid)
        # each seed against NB201 on the same cells: the yardstick for the seeds' agreement
        # (a narrow slice of the table ranks worse against anything than the whole table)
        out["seeds_vs_nb201"] = {"seed0": proxy.agreement(valid, nb201, both),
                                 "seed1": proxy.agreement(valid1, nb201, both),
                                 "params": proxy.agreement(params, nb201, both)}
    out["convergence"] = proxy.convergence(seed0_curves(results), valid, nb201)
    out["pilot_curves"] = {str(i): c for i, c in _by_index(
        proxy.curves(results / "pilot_e100" / "metrics.jsonl")).items()}
    out["pilot"] = [{"index": i, "nb201_valid": nb201[i],
                     "valid_acc_50": seed0[i]["valid_acc"] if i in seed0 else None,
                     "valid_acc_100": r["valid_acc"], "train_acc_50":
                     seed0[i]["train_acc"] if i in seed0 else None,
                     "train_acc_100": r["train_acc"]} for i, r in sorted(pilot.items())]
    arms = {}
    for folder in sorted(Path(paired).iterdir()):
        if folder.is_dir() and any(folder.glob("seed*.final.json")):
            summary = proxy.arm_summary(proxy.arm_rows(folder, valid, nb201))
            if summary:
                arms[folder.name] = summary
    out["arms"] = arms
    out["paired"] = paired_vs_base(valid, nb201, Path(paired))
    return out


def _truth_table(values, source):
    """`{index: value}` as a stand-alone `GroundTruth` (its `valid_acc`), for `compare --gt`."""
    cells = sorted(values)
    return groundtruth.GroundTruth(
        dataset=groundtruth.STANDALONE_DATASET, epochs=50, indices=np.array(cells),
        metrics={"valid_acc": np.array([values[i] for i in cells])}, source=source)


def paired_vs_base(valid, nb201, paired):
    """Each arm's paired Kendall-tau difference from its SPOS base (the first of `BASES` it
    pairs with) on the mini table's cells, against NB201 x-valid and against the mini table:
    whether an arm's gain over SPOS survives the mini scale's own ground truth."""
    truths = {"nb201": _truth_table({i: nb201[i] for i in valid}, "NB201 x-valid"),
              "mini": _truth_table(valid, "the mini table")}
    out = {}
    for folder in sorted(p for p in paired.iterdir() if p.is_dir() and p.name not in BASES):
        for base in BASES:
            try:
                got = {k: compare.compare(paired / base, [folder], gt=t)["arms"][folder.name]
                       for k, t in truths.items()}
            except UsageError:  # another evaluation set, other seeds, too few common cells
                continue
            out[folder.name] = {"base": base, "seeds": got["mini"]["seeds"],
                                "cells": min(r["cells"] for r in got["mini"]["rows"]),
                                **{k: a["summary"]["kendall_tau"] for k, a in got.items()}}
            break
    return out


# Each part's first cell trained wholly with `jaxnas.runtime.keep_freed_memory` (from 2026-12-07
# 13:39; glibc's default malloc before, which mapped a step's large buffer afresh each step):
# the rate is reported for the cells before and since (their epochs got 2-3x shorter).
KEEP_MALLOC_FROM = {"seed0_a": 56, "seed0_b": 57, "seed1a": 1, "seed1b": 1}


def _rate(results, since_malloc):
    """`standalone_parts.rate` of the finished 50-epoch cells of both seeds trained before
    (`since_malloc` False) or since `KEEP_MALLOC_FROM`."""
    seconds = standalone_parts.training_seconds
    return standalone_parts.rate([
        s for part in (*SEED0_PARTS, *SEED1_PARTS)
        for s in (seconds(results / part, first_stack=KEEP_MALLOC_FROM[part]) if since_malloc
                  else seconds(results / part, last_stack=KEEP_MALLOC_FROM[part] - 1))])


def seed0_curves(results):
    """`{NB201 index: {epoch: held-out accuracy}}` of the seed-0 cells with a learning curve."""
    return _by_index(standalone_parts.curves(results, SEED0_PARTS))


def _by_index(by_arch):
    return {nb201.arch_to_index(nb201.str_to_arch(a)): v for a, v in by_arch.items()}


def markdown(r):
    tau = standalone_parts.tau_text
    lines = [(f"Cells trained: seed 0 {r['cells_seed0']} of {r['planned'][0]}, seed 1 "
              f"{r['cells_seed1']} of {r['planned'][1]}"
              + (f"; {len(r['diverged'])} more diverged (no accuracy, not ranked): "
                 f"{', '.join(r['diverged'])}" if r.get("diverged") else "") + "."), ""]
    for key, when in (("rate", "with glibc's default malloc"),
                      ("rate_keep_malloc", "since `keep_freed_memory`")):
        if r.get(key):
            lines += [standalone_parts.rate_text(r[key], f"cell trained {when}", "cells", 50), ""]
    if "table_vs_nb201" not in r:
        return "\n".join(lines) + "\n"
    lines += ["| ranking | Kendall tau [95% bootstrap interval] (cells) |", "|---|---|",
              f"| mini stand-alone held-out acc vs NB201 x-valid | {tau(r['table_vs_nb201'])} |",
              f"| same, the 200 fixed cells only | {tau(r['table_vs_nb201_fixed200'])} |",
              f"| parameter count vs NB201 x-valid (same cells) | {tau(r['params_vs_nb201'])} |",
              f"| parameter count vs the mini table | {tau(r['params_vs_table'])} |"]
    if "seed1_vs_seed0" in r:
        lines.append(standalone_parts.seed_row(r["seed1_vs_seed0"], "the mini table"))
        lines += [f"| {name} vs NB201 x-valid, the same cells | {tau(r['seeds_vs_nb201'][k])} |"
                  for k, name in (("seed0", "seed 0"), ("seed1", "seed 1"),
                                  ("params", "parameter count"))]
    if r["pilot"]:
        lines += ["", "Convergence (pilot cells, held-out / training accuracy):", "",
                  "| cell | NB201 x-valid | 50 epochs | 100 epochs |", "|---|---|---|---|"]
        for p in r["pilot"]:
            at50 = ("-" if p["valid_acc_50"] is None
                    else f"{p['valid_acc_50']:.2f} / {p['train_acc_50']:.2f}")
            lines.append(f"| {p['index']} | {p['nb201_valid']:.2f} | {at50} | "
                         f"{p['valid_acc_100']:.2f} / {p['train_acc_100']:.2f} |")
    if r.get("pilot_curves"):
        epochs = sorted({int(e) for c in r["pilot_curves"].values() for e in c})
        lines += ["", "Pilot cells at 100 epochs, held-out accuracy by epoch:", "",
                  "| cell | " + " | ".join(map(str, epochs)) + " |",
                  "|---|" + "---|" * len(epochs)]
        for cell, c in r["pilot_curves"].items():
            c = {int(e): v for e, v in c.items()}
            lines.append(f"| {cell} | " + " | ".join(
                f"{c[e]:.2f}" if e in c else "-" for e in epochs) + " |")
    if r.get("convergence"):
        lines += ["", ("Held-out accuracy during training (cells with a curve; the table's "
                       "column is epoch 50):"), "",
                  "| epoch | cells | tau vs epoch 50 | tau vs NB201 x-valid |", "|---|---|---|---|"]
        last = max(c["epoch"] for c in r["convergence"])
        lines += [f"| {c['epoch']}{' (the table)' if c['epoch'] == last else ''} | "
                  f"{c['cells']} | {c['tau_final']:.3f} | {c['tau_truth']:.3f} |"
                  for c in r["convergence"]]
    if r["arms"]:
        lines += ["", ("Paired arms (mean over seeds, on the cells both the arm's reports and "
                       "the table hold):"), "",
                  ("| arm | seeds | cells | tau vs NB201 | tau vs mini table | mini table vs "
                   "NB201 |"), "|---|---|---|---|---|---|"]
        for name, a in r["arms"].items():
            lines.append(f"| {name} | {len(a['seeds'])} | {a['cells']:.0f} | "
                         f"{a['tau_nb201']:.3f} | {a['tau_table']:.3f} | "
                         f"{a['table_tau_nb201']:.3f} |")
    if r.get("paired"):
        lines += ["", ("Paired Kendall-tau differences from SPOS (arm minus base, mean [95% "
                       "interval] over seeds) on the mini table's cells:"), "",
                  "| arm | base | seeds | cells | against NB201 x-valid | against the mini table |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {name} | {p['base']} | {len(p['seeds'])} | {p['cells']} | "
                  f"{format_ci(p['nb201'])} | {format_ci(p['mini'])} |"
                  for name, p in r["paired"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser, sub = standalone_parts.parser(__doc__)
    landmarks = sub.add_parser("landmarks")
    landmarks.add_argument("results", type=Path)
    landmarks.add_argument("out", type=Path)
    sub.add_parser("package").add_argument("results", type=Path)
    sub.add_parser("seed0").add_argument("results", type=Path)
    args = parser.parse_args(argv)
    if args.command == "cells":
        write_cells(args.out)
    elif args.command == "landmarks":
        write_landmark_tables(args.results, args.out)
    elif args.command == "package":
        package_tables(args.results)
    elif args.command == "seed0":
        print(len(seed0_rows(args.results)))
    elif args.command in ("save", "restore"):
        standalone_parts.copy_parts(args.src, args.dst, PARTS)
    else:
        standalone_parts.write_report(args.results, report(args.results), markdown,
                                      seed0_curves(args.results), "NB201 x-valid")


if __name__ == "__main__":
    main()
