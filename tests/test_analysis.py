"""jaxnas.analysis: paired intervals, pairing checks, tables, plots, shrunk spaces, GATE usage
statistics, on synthetic inputs, and one committed result folder regenerated when present."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from jaxnas import cli
from jaxnas.analysis import (arms, checkpoints, compare, paired, plots, proxy, shrunk,
                            tables)
from jaxnas.analysis.gate import sharing_by_distance
from jaxnas.analysis.stats import diff_row, format_ci, mean_ci, verdict
from jaxnas.errors import GroundTruthError, UsageError
from jaxnas.evaluate.groundtruth import (METRIC_COLUMNS, MINI_TABLES, load_mini_table,
                                        load_table, read_standalone_rows,
                                        read_standalone_table, write_standalone_table)
from jaxnas.evaluate.scoring import evaluation_archs
from jaxnas.spaces import nb201
from jaxnas.techniques.landmark import landmarks

PAIRED = Path(__file__).resolve().parents[1] / "experiments" / "results" / "paired"
TRUTH = load_table("cifar10-valid").get("valid_acc")


def test_mean_ci_is_the_student_t_interval():
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    ci = mean_ci(d)
    half = 2.7764451051977987 * d.std(ddof=1) / np.sqrt(5)  # t(0.975, 4)
    assert ci["mean"] == pytest.approx(3.0)
    assert ci["ci95"] == pytest.approx([3.0 - half, 3.0 + half])
    assert not ci["includes_zero"] and "above zero" in verdict(ci)
    straddles = mean_ci([-1.0, 0.5, 1.0])
    assert straddles["includes_zero"] and "includes zero" in verdict(straddles)
    assert format_ci(mean_ci([-0.2, -0.1, -0.3])).startswith("-0.200 [")
    assert np.isnan(mean_ci([0.5])["ci95"][0])
    flat = mean_ci([0.2, 0.2])  # a discrete metric, two seeds: zero width, no certainty
    assert flat["all_equal"] and flat["ci95"] == [0.2, 0.2] and not flat["includes_zero"]
    assert "(every seed equal)" in format_ci(flat)
    assert "only 2 seed(s)" in verdict(flat) and "says nothing of the spread" in verdict(flat)
    five = mean_ci([0.1, 0.2, 0.3, 0.2, 0.25])
    assert five["n"] == 5 and not five["all_equal"] and "seed(s)" not in verdict(five)
    assert diff_row("x", {0: 1.0, 1: 3.0}, {0: 0.5, 1: 1.0}) == \
        "| x | 0,1 | +0.50, +2.00 | +1.25 [-8.28, +10.78] (includes 0) |"


def _report(indices, scores, **extra):
    return {"indices": [int(i) for i in indices], "scores": [float(s) for s in scores],
            "archs": "300", "seed": 0, "images_per_arch": 512, "gt": "valid_acc",
            "seconds": 1.0, **extra}


def _arm(folder, noise, seeds=(0, 1, 2), drop=0, **extra):
    """A result folder of synthetic `seed<S>.final.json`: truth + noise of the given size."""
    folder.mkdir(parents=True, exist_ok=True)
    cells = nb201.unique_indices()[:300]
    for s in seeds:
        rng = np.random.default_rng(100 + s)
        kept = cells[drop:]
        scores = TRUTH[kept] + noise * rng.standard_normal(kept.size)
        (folder / f"seed{s}.final.json").write_text(json.dumps(
            _report(kept, scores, excluded=drop, **extra)))
        (folder / f"seed{s}.jsonl").write_text(json.dumps({"epoch": 1, "seconds": 60.0}) + "\n")
    return folder


def test_compare_pairs_seeds_on_common_cells(tmp_path):
    base = arms.load(_arm(tmp_path / "base", noise=20.0))
    arm = arms.load(_arm(tmp_path / "arm", noise=2.0, drop=2))  # 2 excluded cells (landmarks)
    assert paired.check_pairing("base", base, "arm", arm) == [0, 1, 2]
    b = {s: arms.cell_scores(x.final) for s, x in base.items()}
    a = {s: arms.cell_scores(x.final) for s, x in arm.items()}
    rows, summary = paired.compare(b, a, TRUTH)
    assert [r["cells"] for r in rows] == [298] * 3
    for r in rows:
        cells = sorted(set(b[r["seed"]]) & set(a[r["seed"]]))
        pred = [a[r["seed"]][i] for i in cells]
        assert r["arm_kendall_tau"] == pytest.approx(stats.kendalltau(pred, TRUTH[cells])[0])
    assert summary["kendall_tau"]["mean"] > 0.2 and not summary["kendall_tau"]["includes_zero"]
    text = paired.markdown("arm", "base", rows, summary)
    assert "### arm vs base (3 paired seeds)" in text and "**paired difference**" in text


def _table_arm(folder, noise, truth, seeds=(0, 1, 2), table="stand-alone table t.csv"):
    """Reports ranked against a stand-alone table of genotype texts (as DARTS's `--gt`): the
    cells are `archs_text`, each report carries the table's values (`truth`)."""
    folder.mkdir(parents=True, exist_ok=True)
    cells = sorted(truth)
    for s in seeds:
        rng = np.random.default_rng(100 + s)
        scores = [truth[c] + noise * rng.standard_normal() for c in cells]
        (folder / f"seed{s}.final.json").write_text(json.dumps(dict(
            archs_text=cells, scores=scores, truth=[truth[c] for c in cells], archs="table",
            seed=0, images_per_arch=256, gt="valid_acc", space="darts", gt_table=table,
            ground_truth=f"{table} (valid_acc)", seconds=1.0)))
    return folder


def test_compare_against_a_stand_alone_table(tmp_path):
    """Arms ranked against a table (any space) are compared against that table's values, not
    NB201's; different tables, a report without values and --within-space are refused."""
    rng = np.random.default_rng(0)
    truth = {f"Genotype(cell={i})": float(v) for i, v in enumerate(rng.uniform(50, 70, 40))}
    base = _table_arm(tmp_path / "base", 20.0, truth)
    arm = _table_arm(tmp_path / "arm", 1.0, truth)
    report = compare.compare(base, [arm])
    rows = report["arms"]["arm"]["rows"]
    reports = json.loads((arm / "seed1.final.json").read_text())
    cells = reports["archs_text"]
    assert rows[1]["arm_kendall_tau"] == pytest.approx(
        stats.kendalltau(reports["scores"], [truth[c] for c in cells])[0])
    assert rows[1]["cells"] == 40 and report["arms"]["arm"]["found"] == []
    assert report["ground_truth"]["text"].startswith("stand-alone table t.csv")
    assert "Found cells: not compared" in compare.markdown(report)
    with pytest.raises(UsageError, match="within-space"):
        compare.compare(base, [arm], within_space=True)
    other = _table_arm(tmp_path / "other", 1.0, truth, table="stand-alone table u.csv")
    with pytest.raises(UsageError, match="gt_table"):
        compare.compare(base, [other])
    for p in arm.glob("seed*.final.json"):
        r = json.loads(p.read_text())
        del r["truth"]
        p.write_text(json.dumps(r))
    with pytest.raises(UsageError, match="no per-cell ground truth"):
        compare.compare(base, [arm])


def test_proxy_separates_the_supernet_from_its_table(tmp_path):
    """A stand-alone table's tau against NB201 (with a bootstrap interval holding it), and an
    arm ranked against both on the cells its reports and the table share: an arm that scores
    exactly the table's values ranks perfectly against it and only as well as it against
    NB201."""
    cells = nb201.unique_indices()[:300]
    values = TRUTH[cells] + 3.0 * np.random.default_rng(0).standard_normal(cells.size)
    rows = [{"arch": nb201.arch_to_str(nb201.index_to_arch(int(i))), "index": int(i),
             "train_acc": 50.0, "train_loss": 1.0, "valid_acc": float(v), "valid_loss": 1.0,
             "test_acc": 50.0, "test_loss": 1.0, "params": 1.0, "flops": 1.0, "epochs": 50,
             "seed": 0, "scale": "C8-N1-16px"} for i, v in zip(cells, values)]
    write_standalone_table(rows, tmp_path / "t.csv")
    table, truth = proxy.table_values(tmp_path / "t.csv"), proxy.nb201_values()
    a = proxy.agreement(table, truth)
    assert a["cells"] == 300
    assert a["kendall_tau"] == pytest.approx(stats.kendalltau(values, TRUTH[cells])[0])
    assert a["tau_ci95"][0] < a["kendall_tau"] < a["tau_ci95"][1]
    assert proxy.agreement(table, truth, seed=0) == a  # a seeded interval
    other = nb201.unique_indices()[300:350]  # scored by the arm, not in the table
    folder = tmp_path / "arm"
    folder.mkdir()
    scored = np.concatenate([cells[:200], other])
    scores = np.concatenate([values[:200], TRUTH[other]])
    (folder / "seed0.final.json").write_text(json.dumps(_report(scored, scores)))
    (row,) = proxy.arm_rows(folder, table, truth)
    assert row["cells"] == 200 and row["tau_table"] == pytest.approx(1.0)
    assert row["tau_nb201"] == pytest.approx(row["table_tau_nb201"])
    assert row["tau_nb201"] == pytest.approx(
        stats.kendalltau(values[:200], TRUTH[cells[:200]])[0])
    assert proxy.arm_summary([row])["seeds"] == [0]
    lines = [{"epoch": 10, "archs": ["a", "b", "c"], "valid_acc": [1.0, 2.0, 3.0]},
             {"epoch": 10, "archs": ["a", "b", "c"], "valid_acc": [3.0, 2.0, 1.0]},  # resumed
             {"epoch": 11, "loss": 1.0}, {"epoch": 20, "archs": ["a", "b", "c"],
                                          "valid_acc": [1.0, None, 2.0]}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    curves = proxy.curves(tmp_path / "metrics.jsonl")
    assert curves == {"a": {10: 3.0, 20: 1.0}, "b": {10: 2.0}, "c": {10: 1.0, 20: 2.0}}
    (c10,) = proxy.convergence(curves, {"a": 30.0, "b": 20.0, "c": 10.0, "d": 0.0})
    assert (c10["epoch"], c10["cells"], c10["tau_final"]) == (10, 3, pytest.approx(1.0))
    with pytest.raises(UsageError, match="1 cell"):
        proxy.agreement({1: 1.0}, truth)


@pytest.mark.parametrize("change, message", [
    (dict(seeds=(0, 1)), "unpaired seeds"),
    (dict(images_per_arch=1024), "images_per_arch"),
    (dict(drop=5), "different cell sets"),
])
def test_unpaired_arms_are_refused(tmp_path, change, message):
    base = arms.load(_arm(tmp_path / "base", noise=1.0))
    drop = change.pop("drop", 0)
    arm_folder = _arm(tmp_path / "arm", noise=1.0, **change)
    if drop:  # drop cells without declaring them excluded
        for p in arm_folder.glob("seed*.final.json"):
            r = json.loads(p.read_text())
            p.write_text(json.dumps({**r, "indices": r["indices"][drop:],
                                     "scores": r["scores"][drop:]}))
    with pytest.raises(UsageError, match=message):
        paired.check_pairing("base", base, "arm", arms.load(arm_folder))


def test_common_seeds_are_opt_in(tmp_path):
    base = arms.load(_arm(tmp_path / "base", noise=1.0))
    arm = arms.load(_arm(tmp_path / "arm", noise=1.0, seeds=(0, 2, 5)))
    assert paired.check_pairing("base", base, "arm", arm, common_seeds=True) == [0, 2]


def test_run_directories_are_an_arm(tmp_path):
    for seed in (3, 4):
        run = tmp_path / "arm" / f"run{seed}"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"seed": seed}))
        (run / "evaluate.json").write_text(json.dumps(_report([0, 1, 2], [0.1, 0.2, 0.3])))
        (run / "metrics.jsonl").write_text('{"epoch": 1, "seconds": 2.0}\n')
    loaded = arms.load(tmp_path / "arm")
    assert sorted(loaded) == [3, 4] and loaded[3].log == [{"epoch": 1, "seconds": 2.0}]
    assert arms.found_index(loaded[4])[0] == 2
    (tmp_path / "arm" / "run4" / "abs.json").write_text(json.dumps(_report([5, 6], [1.0, 0.0])))
    (tmp_path / "arm" / "run3" / "abs.json").write_text(json.dumps(_report([5, 6], [0.0, 1.0])))
    assert arms.found_index(arms.load(tmp_path / "arm", report="abs.json")[4])[0] == 5
    (tmp_path / "arm" / "run4" / "evaluate.json").unlink()
    with pytest.raises(UsageError, match="has no evaluate.json"):
        arms.load(tmp_path / "arm")


def test_method_table_and_found_cells(tmp_path):
    table = {name: tables.arm_rows(arms.load(_arm(tmp_path / name, noise=n)))
             for name, n in (("base", 30.0), ("good", 0.5))}
    for rows in table.values():
        for r in rows.values():
            assert r["found_test_acc"] == pytest.approx(
                load_table().get("test_acc")[r["found_index"]])
            assert r["train_minutes"] == pytest.approx(1.0)
    final = json.loads((tmp_path / "good" / "seed0.final.json").read_text())
    assert table["good"][0]["found_index"] == final["indices"][int(np.argmax(final["scores"]))]
    text = tables.method_table(table)
    assert text.count("\n") == 4 and "| good | 0,1,2 | 512 |" in text
    assert "| good | 0,1,2 |" in tables.found_vs(table, "base")


def test_tables_and_plots_over_epochs(tmp_path):
    logs = {f"seed{s}": [{"epoch": e, "seconds": 10.0, "eval": {
        "kendall_tau": 0.1 * e + s, "sparse_kendall_tau": 0.1, "p_at_top_5": 0.0,
        "spearman_rho": 0.2, "top1_true_rank": 5, "seconds": 1.0}} for e in (1, 2)]
        for s in (0, 1)}
    text = tables.epoch_table({"run": logs}, {"run": "1,000"})
    assert "| run | 2 | 0.700 ± 0.500 [0.200, 1.200] |" in text and text.endswith("| 1,000 |")
    plots.over_epochs({"run": logs}, tmp_path / "epochs.png")
    rows = [{"seed": 0, "base_kendall_tau": 0.1, "arm_kendall_tau": 0.3},
            {"seed": 1, "base_kendall_tau": 0.2, "arm_kendall_tau": 0.3}]
    plots.paired("base", {"arm": {"rows": rows, "summary": {"kendall_tau": mean_ci([.2, .1])}}},
                 tmp_path / "paired.png")
    results = {"g/seed0": {"rows": [{"epoch": 1, "tau": 0.1}, {"epoch": 2, "tau": 0.3}]},
               "g/seed1": {"rows": [{"epoch": 1, "tau": 0.3}]}}
    summary = tables.over_epochs_by_group(results, ["tau"])
    assert summary == {"g/tau": [{"epoch": 1, "mean": pytest.approx(0.2),
                                  "std": pytest.approx(0.1), "runs": 2},
                                 {"epoch": 2, "mean": 0.3, "std": 0.0, "runs": 1}]}
    plots.tau_groups(summary, {"tau": ("-", "tau"), "n": 1}, tmp_path / "groups.png")
    for name in ("epochs", "paired", "groups"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_epoch_steps_keep_epoch_boundaries(tmp_path):
    for step in (5, 10, 15, 20, 7):
        (tmp_path / "checkpoints" / str(step)).mkdir(parents=True)
    assert checkpoints.epoch_steps(tmp_path, 5) == {1: 5, 2: 10, 3: 15, 4: 20}
    assert checkpoints.epoch_steps(tmp_path, 10, {2}) == {2: 20}


def test_shrunk_space_quality():
    truth = shrunk.truth_table("test")
    ranks = shrunk.operator_truth_ranks(truth)
    assert sorted(ranks.ravel()) == list(range(1, 31))
    full = shrunk.quality(nb201.SPACE.full_mask(), truth, ranks)
    assert (full["size"], full["top50_kept"], full["best_rank"]) == (15625, 50, 1)
    mask = nb201.SPACE.full_mask().copy()
    mask[:, 0] = False  # no `none` anywhere
    q = shrunk.quality(mask, truth, ranks)
    assert q["size"] == 4 ** 6 and len(q["dropped_truth_ranks"]) == 6
    best = shrunk.oracle(truth, ranks, 20)
    assert best["size"] == 16 and best["mean_truth"] > full["mean_truth"]


def test_sharing_by_distance_against_chance():
    rng = np.random.default_rng(0)
    archs = rng.integers(0, 5, (60, 6))
    same = sharing_by_distance(archs, np.zeros((60, 6), int), 4)  # one block for every edge
    assert all(v["shared"] in (None, 1.0) and v["chance"] in (None, 1.0) for v in same.values())
    noise = sharing_by_distance(archs, rng.integers(0, 4, (60, 6)), 4)
    for v in noise.values():
        if v["pairs"] > 30:
            assert abs(v["shared"] - v["chance"]) < 0.2


@pytest.mark.skipif(not (PAIRED / "landmark_vs_spos.json").is_file(),
                    reason="committed results not in this checkout")
def test_committed_landmark_comparison_is_reproduced():
    """`experiments/results/paired/landmark_vs_spos.json`, recomputed from the seed reports."""
    committed = json.loads((PAIRED / "landmark_vs_spos.json").read_text())["landmark"]
    base = {s: arms.cell_scores(x.final) for s, x in arms.load(PAIRED / "spos_2560").items()}
    arm = {s: arms.cell_scores(x.final) for s, x in arms.load(PAIRED / "landmark").items()}
    rows, summary = paired.compare(base, arm, TRUTH)
    assert len(rows) == len(committed["rows"]) == 5
    for got, want in zip(rows, committed["rows"]):
        assert got.keys() == want.keys()
        for key in got:
            assert got[key] == pytest.approx(want[key], abs=1e-9)
    for m, ci in summary.items():
        assert ci["mean"] == pytest.approx(committed["summary"][m]["mean"], abs=1e-9)
        assert ci["ci95"] == pytest.approx(committed["summary"][m]["ci95"], abs=1e-9)
        assert ci["includes_zero"] == committed["summary"][m]["includes_zero"]


def test_jaxnas_compare_command(tmp_path, capsys):
    _arm(tmp_path / "base", noise=30.0)
    _arm(tmp_path / "arm", noise=1.0, drop=2)
    out, png = tmp_path / "cmp.json", tmp_path / "cmp.png"
    assert cli.main(["compare", str(tmp_path / "arm"), "--base", str(tmp_path / "base"),
                     "--out", str(out), "--plot", str(png)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert printed.startswith("Protocol default; ground truth NB201 cifar10-valid valid_acc")
    assert out.with_suffix(".md").read_text().strip() == printed.strip()
    arm = report["arms"]["arm"]
    assert arm["seeds"] == [0, 1, 2] and [r["cells"] for r in arm["rows"]] == [298] * 3
    assert set(arm["summary"]) == {"kendall_tau", "sparse_kendall_tau", "spearman_rho",
                                   "p_at_top_5", "p_at_top_10"}
    assert "lies above zero" in arm["verdict"]["kendall_tau"]
    assert len(arm["found"]) == 3 and "found_test_acc" in arm["verdict"]
    assert png.read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "arm" / "seed0.jsonl").write_text(json.dumps(
        {"epoch": 1, "seconds": 1.0, "eval": {"kendall_tau": 0.5, "sparse_kendall_tau": 0.5,
                                              "p_at_top_5": 0.1}}) + "\n")
    epochs = tmp_path / "epochs.png"
    assert cli.main(["compare", str(tmp_path / "arm"), "--base", str(tmp_path / "base"),
                     "--epochs-plot", str(epochs)]) == 0
    assert epochs.read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    (tmp_path / "base" / "seed0.jsonl").write_text(json.dumps(  # ranked against eval.table
        {"epoch": 1, "seconds": 1.0, "eval": {"kendall_tau": 0.4, "sparse_kendall_tau": 0.4,
                                              "p_at_top_5": 0.1, "gt_table": "nb201-mini"}}) + "\n")
    assert cli.main(["compare", str(tmp_path / "arm"), "--base", str(tmp_path / "base"),
                     "--epochs-plot", str(tmp_path / "mixed.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "NB201, nb201-mini" in err
    _arm(tmp_path / "short", noise=1.0, seeds=(0, 1))
    assert cli.main(["compare", str(tmp_path / "short"), "--base", str(tmp_path / "base")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unpaired seeds" in err


def _experiment(name):
    """An `experiments/` script loaded as a module."""
    path = Path(__file__).resolve().parents[1] / "experiments" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ceiling_rate_before_and_since_the_malloc_change(tmp_path, monkeypatch):
    """`ceiling.report`'s training rates: each finished cell's median epoch x its epochs, split
    at `KEEP_MALLOC_FROM` (the first cell trained with `keep_freed_memory`); the cell still
    training is not counted."""
    ceiling = _experiment("ceiling")
    part = tmp_path / "seed0_a"
    part.mkdir()
    (part / "table.csv").write_text("arch\n" + "x\n" * 4)  # 4 finished cells
    (part / "metrics.jsonl").write_text("".join(
        json.dumps({"stack": stack, "epoch": e, "seconds": (12.0 if stack < 3 else 6.0)
                    + (100.0 if e == 1 else 0.0)}) + "\n"
        for stack in range(1, 6) for e in range(1, 4)))
    monkeypatch.setitem(ceiling.KEEP_MALLOC_FROM, "seed0_a", 3)
    before, since = ceiling._rate(tmp_path, False), ceiling._rate(tmp_path, True)
    assert (before["cells"], before["median_s"]) == (2, 36.0)
    assert (since["cells"], since["median_s"]) == (2, 18.0)
    assert since["cells_per_cpu_hour"] == 200.0
    # a part trained wholly since the change (seed 1: from its first cell) counts once, since
    (tmp_path / "seed1a").mkdir()
    for name in ("table.csv", "metrics.jsonl"):
        (tmp_path / "seed1a" / name).write_text((part / name).read_text())
    assert ceiling._rate(tmp_path, False)["cells"] == 2
    assert ceiling._rate(tmp_path, True)["cells"] == 6


def test_ceiling_experiment_cells_and_report(tmp_path):
    """`experiments/ceiling.py`: the 300 cells hold the 200 fixed evaluation cells and 133 of
    the paired arms' 1,000, split into two parts; `save` / `restore` carry a part's progress;
    `report` reads a partial table and ranks the committed arms against it."""
    ceiling = _experiment("ceiling")
    ceiling.write_cells(tmp_path / "w")
    a, b, seed1a, seed1b = ((tmp_path / "w" / f"cells_{n}.txt").read_text().split()
                            for n in ("a", "b", "seed1a", "seed1b"))
    idx = {nb201.arch_to_index(nb201.str_to_arch(s)) for s in a + b}
    first100 = (a[:3] + [x for pair in zip(a[3:], b) for x in pair])[:100]
    assert len(a) + len(b) == len(idx) == 300
    assert (seed1a, seed1b) == (first100[0::2], first100[1::2])
    assert set(evaluation_archs(200).tolist()) <= idx
    assert len(idx & set(evaluation_archs(1000).tolist())) == 133
    part = tmp_path / "w" / "seed0_a"
    part.mkdir()
    rng = np.random.default_rng(1)
    cells = [nb201.arch_to_index(nb201.str_to_arch(s)) for s in a[:40]]
    write_standalone_table([{
        "arch": s, "index": i, "train_acc": 60.0, "train_loss": 1.0,
        "valid_acc": float(TRUTH[i] + 2 * rng.standard_normal()), "valid_loss": 1.0,
        "test_acc": 60.0, "test_loss": 1.0, "params": float(i), "flops": 1.0, "epochs": 50,
        "seed": 0, "scale": "C8-N1-16px"} for s, i in zip(a[:40], cells)], part / "table.csv")
    (part / "cells.txt").write_text("".join(s + "\n" for s in a))
    ceiling.standalone_parts.copy_parts(tmp_path / "w", tmp_path / "results", ceiling.PARTS)
    ceiling.standalone_parts.copy_parts(tmp_path / "results", tmp_path / "fresh", ceiling.PARTS)
    assert (tmp_path / "fresh" / "seed0_a" / "cells.txt").read_text().split() == a
    assert (tmp_path / "fresh" / "seed0_a" / "table.csv").read_text() == \
        (part / "table.csv").read_text()
    (part / "table.csv").write_text((part / "table.csv").read_text().splitlines()[0] + "\n")
    # less progress: not copied
    ceiling.standalone_parts.copy_parts(tmp_path / "w", tmp_path / "fresh", ceiling.PARTS)
    assert (tmp_path / "fresh" / "seed0_a" / "table.csv").read_text().count("\n") == 41
    report = ceiling.report(tmp_path / "fresh", paired=PAIRED)
    assert report["cells_seed0"] == 40 and "seed 0 40 of 300" in ceiling.markdown(report)
    assert report["table_vs_nb201"]["cells"] == 40
    spos = report["arms"]["spos"]  # the committed SPOS arm: its cells among the 40
    assert spos["seeds"] == [0, 1, 2, 3, 4]
    assert spos["cells"] == len(set(cells) & set(evaluation_archs(1000).tolist()))
    # the committed landmark arm paired with SPOS at 2,560 images, on the table's cells (less
    # a seed's landmarks among them), against NB201 and against the table
    lm = report["paired"]["landmark"]
    assert lm["base"] == "spos_2560" and lm["seeds"] == [0, 1, 2, 3, 4]
    assert 3 <= lm["cells"] <= spos["cells"] and {"mean", "ci95"} <= set(lm["mini"])
    assert "| landmark | spos_2560 | 5 |" in ceiling.markdown(report)
    # a cell recorded as diverged (train.on_divergence="record") is counted apart, not ranked
    (tmp_path / "fresh" / "seed0_b").mkdir()
    metrics = dict.fromkeys(METRIC_COLUMNS)
    write_standalone_table([{"arch": b[0], "index": nb201.arch_to_index(nb201.str_to_arch(
        b[0])), **metrics, "params": 1.0, "flops": 1.0, "epochs": 50, "seed": 0,
        "scale": "C8-N1-16px"}], tmp_path / "fresh" / "seed0_b" / "table.csv")
    report = ceiling.report(tmp_path / "fresh", paired=PAIRED)
    assert report["cells_seed0"] == 40 and report["diverged"] == [b[0]]
    assert f"seed 1 0 of 100; 1 more diverged (no accuracy, not ranked): {b[0]}." in \
        ceiling.markdown(report)
    # the shipped mini table (`package`): each seed's rows in index order, same bytes again
    assert ceiling.package_tables(tmp_path / "fresh", tmp_path / "pkg") == {
        "nb201_mini_seed0.csv.gz": 41}
    packaged = tmp_path / "pkg" / "nb201_mini_seed0.csv.gz"
    table, first = read_standalone_table(packaged), packaged.read_bytes()
    assert table.indices.tolist() == sorted(cells) and "1 diverged" in table.source
    ceiling.package_tables(tmp_path / "fresh", tmp_path / "pkg")
    assert packaged.read_bytes() == first
    # issue 30 item 4's two landmark tables: the same cells, the mini and NB201's values
    ceiling.write_landmark_tables(tmp_path / "fresh", tmp_path / "lm")
    trained, looked_up = (landmarks.read_table(tmp_path / "lm" / f"{n}.csv")
                          for n in ("trained", "nb201"))
    assert trained.indices.tolist() == looked_up.indices.tolist() == sorted(cells)
    np.testing.assert_allclose(looked_up.acc, TRUTH[sorted(cells)])
    assert np.array_equal(landmarks.select(trained, 30, seed=3),
                          landmarks.select(looked_up, 30, seed=3))
    # a second seed on 12 of the cells: its agreement with seed 0, and each seed's and the
    # parameter count's tau against NB201 on those same cells beside it
    (tmp_path / "fresh" / "seed1b").mkdir()
    seed0 = {r["index"]: r for r in read_standalone_rows(
        tmp_path / "fresh" / "seed0_a" / "table.csv")}
    write_standalone_table([{**seed0[i], "seed": 1, "valid_acc": seed0[i]["valid_acc"]
                             + 3 * rng.standard_normal()} for i in cells[:12]],
                           tmp_path / "fresh" / "seed1b" / "table.csv")
    report = ceiling.report(tmp_path / "fresh", paired=PAIRED)
    seed1 = {r["index"]: r["valid_acc"] for r in read_standalone_rows(
        tmp_path / "fresh" / "seed1b" / "table.csv")}
    same = sorted(seed1)
    truth = TRUTH[same]
    for key, values in (("seed0", [seed0[i]["valid_acc"] for i in same]),
                        ("seed1", [seed1[i] for i in same]), ("params", same)):
        got = report["seeds_vs_nb201"][key]
        assert got["cells"] == 12
        assert got["kendall_tau"] == pytest.approx(stats.kendalltau(values, truth)[0])
    assert report["seed1_vs_seed0"]["kendall_tau"] == pytest.approx(stats.kendalltau(
        [seed1[i] for i in same], [seed0[i]["valid_acc"] for i in same])[0])
    text = ceiling.markdown(report)
    assert "| seed 1 vs NB201 x-valid, the same cells |" in text
    assert "| parameter count vs NB201 x-valid, the same cells |" in text


def test_shipped_mini_table_is_the_committed_ceiling(tmp_path):
    """`load_mini_table` ships what `ceiling.py package` writes from the committed progress (so
    a session that saved the ceiling and forgot to package fails here); it is the ground truth
    `evaluate --gt nb201-mini` and `landmark.table=nb201-mini` read; a seed with no cells yet
    is one line."""
    ceiling = _experiment("ceiling")
    written = ceiling.package_tables(ceiling.ROOT / "experiments" / "results" / "ceiling",
                                     tmp_path)
    shipped = ceiling.ROOT / "jaxnas" / "resources"
    assert "nb201_mini_seed0.csv.gz" in written
    for name, file in MINI_TABLES.items():
        if file not in written:
            assert not (shipped / file).exists()
            with pytest.raises(GroundTruthError, match="not shipped yet"):
                load_mini_table(name)
            continue
        assert (shipped / file).read_bytes() == (tmp_path / file).read_bytes(), \
            f"jaxnas/resources/{file} is stale: run experiments/ceiling.py package"
        table = load_mini_table(name)
        assert table.source.startswith(f"stand-alone table jaxnas {name} (")
        assert (table.dataset, table.epochs) == ("standalone", 50)
        assert len(table.indices) == written[file] and "C8-N1-16px" in table.source
        lm = landmarks.read_table(name)
        order = np.argsort(table.indices)
        assert lm.indices.tolist() == table.indices[order].tolist()
        np.testing.assert_array_equal(lm.acc, table.get("valid_acc")[order])
    with pytest.raises(GroundTruthError, match="unknown mini table 'nb201-tiny'"):
        load_mini_table("nb201-tiny")


def test_compare_against_another_table_ranks_the_stored_scores(tmp_path, capsys):
    """`compare --gt TABLE`: the arms' stored per-cell scores ranked against a stand-alone
    table on the cells it holds (here 40 of the 300 scored; the arm's scores are the table's
    values plus small noise, so it beats the noisier base there); a table sharing fewer than 3
    cells with the reports, or a DARTS report, is one line."""
    base, arm = _arm(tmp_path / "base", noise=20.0), _arm(tmp_path / "arm", noise=0.5)
    cells = nb201.unique_indices()[:300][::7][:40]
    write_standalone_table([{
        "arch": nb201.arch_to_str(nb201.index_to_arch(int(i))), "index": int(i),
        "train_acc": 1.0, "train_loss": 1.0, "valid_acc": float(TRUTH[i]), "valid_loss": 1.0,
        "test_acc": float(-TRUTH[i]), "test_loss": 1.0, "params": 1.0, "flops": 1.0,
        "epochs": 50, "seed": 0, "scale": "C8-N1-16px"} for i in cells], tmp_path / "t.csv")
    table = read_standalone_table(tmp_path / "t.csv")
    report = compare.compare(base, [arm], gt=table)
    rows = report["arms"]["arm"]["rows"]
    assert [r["cells"] for r in rows] == [40] * 3
    scores = arms.cell_scores(json.loads((arm / "seed0.final.json").read_text()))
    assert rows[0]["arm_kendall_tau"] == pytest.approx(
        stats.kendalltau([scores[i] for i in sorted(cells)], TRUTH[sorted(cells)])[0])
    assert report["arms"]["arm"]["summary"]["kendall_tau"]["mean"] > 0
    assert "ranked from the reports' scores" in report["ground_truth"]["text"]
    flipped = compare.compare(base, [arm], gt=table, gt_split="test")  # test_acc = -valid
    assert flipped["arms"]["arm"]["rows"][0]["arm_kendall_tau"] == pytest.approx(
        -rows[0]["arm_kendall_tau"])
    assert cli.main(["compare", str(arm), "--base", str(base), "--gt", str(tmp_path / "t.csv")
                     ]) == 0
    assert "(3 paired seeds)" in capsys.readouterr().out
    (tmp_path / "few.csv").write_text(  # the header and two cells
        "\n".join((tmp_path / "t.csv").read_text().splitlines()[:3]) + "\n")
    for argv, message in ((["--gt", "valid"], "expected a stand-alone table"),
                          (["--gt", str(tmp_path / "few.csv")], "2 cell(s) in common")):
        assert cli.main(["compare", str(arm), "--base", str(base), *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    darts = _arm(tmp_path / "darts", noise=1.0)
    for seed in (0, 1, 2):
        path = darts / f"seed{seed}.final.json"
        r = json.loads(path.read_text())
        r["archs_text"] = [f"g{i}" for i in r.pop("indices")]
        path.write_text(json.dumps(r))
    with pytest.raises(UsageError, match="without NB201 indices"):
        compare.compare(darts, [darts], gt=table)


def test_standalone_report_figure(tmp_path):
    """A stand-alone experiment's report draws the cells' learning curves and the ranking's
    agreement over epochs (`plots.learning_curves`) and links the figure; without curves it
    writes none."""
    parts = _experiment("standalone_parts")
    rng = np.random.default_rng(0)
    curves = {c: {e: float(50 + e + rng.random()) for e in (10, 20, 30)} for c in range(6)}
    curves[6] = {10: 55.0}  # a cell still training
    final = {c: v[30] for c, v in curves.items() if 30 in v}
    truth = {c: float(c) for c in curves}
    report = {"convergence": proxy.convergence(curves, final, truth)}
    assert [r["epoch"] for r in report["convergence"]] == [10, 20, 30]
    parts.write_report(tmp_path, report, lambda r: "text\n", curves, "the truth")
    assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "report.md").read_text().endswith("](report.png)\n")
    (tmp_path / "report.png").unlink()
    parts.write_report(tmp_path, report, lambda r: "text\n")
    assert not (tmp_path / "report.png").exists()
    assert (tmp_path / "report.md").read_text() == "text\n"


def test_darts_tau_experiment_cells_table_and_report(tmp_path):
    """`experiments/darts_tau.py` (issue 29 item 6): 130 distinct genotypes split into the
    evaluation table's two parts, the landmarks' and a second seed's first 20; `table` refuses
    an unfinished evaluation table and joins a finished one; `report` reads partial tables."""
    darts_tau = _experiment("darts_tau")
    work = tmp_path / "w"
    darts_tau.write_cells(work)
    lists = {p: (work / f"genotypes_{p}.txt").read_text().splitlines()
             for p in ("a", "b", "lm", "seed1a", "seed1b")}
    assert [len(v) for v in lists.values()] == [65, 35, 30, 10, 10]
    assert len(set(lists["a"] + lists["b"] + lists["lm"])) == 130
    assert lists["seed1a"] + lists["seed1b"] == lists["a"][:20]
    rng = np.random.default_rng(0)

    def fill(part, names):
        (work / part).mkdir(exist_ok=True)
        (work / part / "cells.txt").write_text("".join(n + "\n" for n in names))
        write_standalone_table([{
            "arch": n, "index": None, "train_acc": 60.0, "train_loss": 1.0,
            "valid_acc": float(50 + 10 * rng.random()), "valid_loss": 1.0, "test_acc": 60.0,
            "test_loss": 1.0, "params": float(rng.random()), "flops": float(rng.random()),
            "epochs": 20, "seed": 0, "scale": "C4-L3-16px-search"} for n in names],
            work / part / "table.csv")

    fill("gt_a", lists["a"])
    fill("gt_b", lists["b"][:10])
    with pytest.raises(UsageError, match="gt_b: 10 of 35"):
        darts_tau.write_table(work, work / "gt.csv")
    fill("gt_b", lists["b"])
    darts_tau.write_table(work, work / "gt.csv")
    assert len(read_standalone_rows(work / "gt.csv")) == 100
    fill("gt_seed1a", lists["seed1a"])
    fill("gt_seed1b", lists["seed1b"])
    darts_tau.main(["save", str(work), str(tmp_path / "results")])
    assert (tmp_path / "results" / "gt.csv").read_text() == (work / "gt.csv").read_text()
    report = darts_tau.report(tmp_path / "results", paired=tmp_path / "no_arms")
    assert report["trained"]["gt_a"] == [65, 65] and report["trained"]["gt_lm"] == [0, 30]
    assert report["params_vs_table"]["cells"] == 100 and report["arms"] == []
    assert "none with 2 seeds finished" in darts_tau.markdown(report)
    seeds = report["seed1_vs_seed0"]
    assert seeds["cells"] == 20 and "difference" in darts_tau.markdown(report)
    assert seeds["mean_abs_diff"] == pytest.approx(np.mean([abs(
        a["valid_acc"] - b["valid_acc"]) for a, b in zip(
            read_standalone_rows(work / "gt_seed1a" / "table.csv")
            + read_standalone_rows(work / "gt_seed1b" / "table.csv"),
            read_standalone_rows(work / "gt_a" / "table.csv"))]))
    assert "gt_b 35 of 35" in darts_tau.markdown(report)
    # the seed line's yardstick: the parameter count against each seed on the same genotypes
    seed0 = {r["arch"]: r for r in read_standalone_rows(work / "gt_a" / "table.csv")}
    seed1 = {r["arch"]: r["valid_acc"] for p in ("gt_seed1a", "gt_seed1b")
             for r in read_standalone_rows(work / p / "table.csv")}
    same = sorted(seed1)
    for key, values in (("seed0", [seed0[a]["valid_acc"] for a in same]),
                        ("seed1", [seed1[a] for a in same])):
        got = report["params_vs_seeds"][key]
        assert got["cells"] == 20 and got["kendall_tau"] == pytest.approx(
            stats.kendalltau([seed0[a]["params"] for a in same], values)[0])
    assert "| parameter count vs seed 1, the same genotypes |" in darts_tau.markdown(report)
