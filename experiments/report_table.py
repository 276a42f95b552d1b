"""One table of every method's paired mini runs: ranking quality and the cell each one finds.

For each arm folder (`experiments/results/paired/<arm>/`, written by `run_paired.sh`), per seed:
Kendall's tau, sparse tau and P@top-5% of the final supernet on its 1,000 scored cells; the cell
the method finds, with its ground-truth cifar10-valid test accuracy and rank among the 15,625;
train time (the epochs' wall time from the metrics log) and the search's time. The found cell is
the arm's `seed<S>.search.json` when there is one (a `jaxnas search` result, e.g. a search of an
ABS-shrunk space; an arm with only searches has no ranking columns), else the best-scored of
the 1,000 cells the final evaluation scored: random search over a seeded non-isomorphic sample
with a budget of 1,000, the same sample for every arm.
Mean ± std over seeds, per-seed values in the JSON.

    python experiments/report_table.py spos close close_structure abs_shrink \
        --out experiments/results/paired/report.md
"""

import argparse
import json
from pathlib import Path

import numpy as np

import paired_diff  # same folder
from jaxnas.search import result

ROOT = Path(__file__).parent / "results" / "paired"
COLUMNS = (("images_per_arch", "images per cell", 0), ("kendall_tau", "Kendall's tau", 3),
           ("sparse_kendall_tau", "sparse tau", 3),
           ("p_at_top_5", "P@top-5%", 3), ("found_test_acc", "found cell test acc", 2),
           ("found_rank_test", "found cell rank", 0), ("train_minutes", "train min", 1),
           ("search_seconds", "search s", 0))


def seed_row(folder, seed):
    """The numbers of one seed of one arm (ranking columns blank for an arm that only searched)."""
    path = folder / f"seed{seed}.final.json"
    final = json.loads(path.read_text()) if path.is_file() else {}
    row = {k: final.get(k, np.nan) for k in ("kendall_tau", "sparse_kendall_tau", "p_at_top_5",
                                               "images_per_arch")}
    search = folder / f"seed{seed}.search.json"
    if search.is_file():
        found = json.loads(search.read_text())
        index, seconds = found["found"]["index"], found["seconds"]
        how = (f"{found['strategy']} search, budget {found['budget']}" if "budget" in found
               else f"{found['strategy']}: argmax of the trained architecture logits")
    else:
        index = final["indices"][int(np.argmax(paired_diff.scores(final)))]
        seconds, how = final["seconds"], "best of the 1,000 scored cells"
    info = result.describe(int(index))
    log = [json.loads(x) for x in (folder / f"seed{seed}.jsonl").read_text().splitlines()]
    row.update(found_index=int(index), found_arch=info["arch"], found_test_acc=info["test_acc"],
               found_rank_test=info["rank_test"], found_by=how, search_seconds=seconds,
               train_minutes=sum(x.get("seconds", 0.0) for x in log) / 60)
    return row


def arm_rows(folder):
    """seed -> `seed_row` for every seed with a final report or a search result."""
    paths = [*folder.glob("seed*.final.json"), *folder.glob("seed*.search.json")]
    return {s: seed_row(folder, s) for s in sorted({int(p.name[4:].split(".")[0]) for p in paths})}


def markdown(table):
    head = "| method | seeds | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [head, "|---|---|" + "---|" * len(COLUMNS)]
    for arm, rows in table.items():
        cells = []
        for key, _, digits in COLUMNS:
            v = np.array([r[key] for r in rows.values()], float)
            if np.isnan(v).all():
                cells.append("—")
                continue
            if np.all(v == v[0]):
                cells.append(f"{v[0]:.{digits}f}")
                continue
            cells.append(f"{v.mean():.{digits}f} ± {v.std(ddof=1) if v.size > 1 else 0:.{digits}f}")
        lines.append(f"| {arm} | {','.join(map(str, rows))} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def found_vs(table, base):
    """Per arm: per-seed difference of the found cell's test accuracy against arm `base`."""
    lines = [f"Found cell's test accuracy, arm - {base}, paired by seed:", "",
             "| method | seeds | per seed | mean, 95% CI |", "|---|---|---|---|"]
    found = {arm: {s: r["found_test_acc"] for s, r in rows.items()}
             for arm, rows in table.items()}
    rows = (paired_diff.diff_row(arm, found[arm], found[base]) for arm in found if arm != base)
    return "\n".join(lines + [r for r in rows if r]) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("arms", nargs="+", help="arm folder names under results/paired (or paths)")
    p.add_argument("--base", help="also the paired found-cell differences against this arm")
    p.add_argument("--out", type=Path, help="markdown table here, JSON beside it")
    args = p.parse_args()
    table = {}
    for arm in args.arms:
        folder = Path(arm) if Path(arm).is_dir() else ROOT / arm
        rows = arm_rows(folder)
        if rows:
            table[folder.name] = rows
    text = markdown(table)
    if args.base:
        text += "\n" + found_vs(table, args.base)
    print(text)
    if args.out:
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
