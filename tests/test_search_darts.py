"""Scoring, ranking against a genotype table, and search in the DARTS space."""

import json

import jax
import numpy as np
import pytest

from jaxnas.errors import ArchError, ConfigError, GroundTruthError
from jaxnas.evaluate import scoring, scoring_darts
from jaxnas.search import evolution
from jaxnas.search import random as random_search
from jaxnas.spaces import DARTS, darts
from jaxnas.supernet import darts as supernet
from jaxnas.data import normalize

from conftest import genotype_table  # a helper beside the fixtures


def _one_move(a, b):
    """Whether `b` is `a` with one op changed or one input of one node moved."""
    diff = np.flatnonzero(a != b)
    if diff.size == 1:
        return a[diff[0]] != 0 and b[diff[0]] != 0  # an op change of a used edge
    if diff.size != 2:
        return False
    nodes = {(k // darts.NUM_EDGES, darts.EDGES[k % darts.NUM_EDGES][0]) for k in diff}
    left = [k for k in diff if b[k] == 0]
    added = [k for k in diff if a[k] == 0]
    return len(nodes) == 1 and len(left) == 1 and len(added) == 1


def test_mutation_keeps_a_valid_genotype_under_random_masks():
    rng = np.random.default_rng(0)
    kinds = set()
    for trial in range(300):
        mask = None
        if trial % 2:  # a random sub-space: each edge keeps a random half of its ops
            mask = rng.random((darts.ARCH_LEN, darts.NUM_OPS)) < 0.5
            mask[:, 0] = True
            mask[np.arange(darts.ARCH_LEN), rng.integers(1, 8, darts.ARCH_LEN)] = True
        arch = darts.sample(rng, mask=mask)
        child = DARTS.mutate(rng, arch, mask=mask)
        DARTS.check(child, batched=False)  # two distinct inputs per node (ArchError otherwise)
        assert _one_move(arch, child)
        kinds.add(int(np.sum(arch != child)))
        if mask is not None:
            assert DARTS.allowed(child[None], mask)[0]
        assert np.array_equal(DARTS.from_str(DARTS.to_str(child)), child)
    assert kinds == {1, 2}  # both op changes and input moves happen
    walk = darts.sample(rng)
    for _ in range(300):  # a random walk visits genotypes no sampler drew
        step = DARTS.mutate(rng, walk)
        assert _one_move(walk, step) and DARTS.check(step[None]).shape == (1, darts.ARCH_LEN)
        walk = step
    # A mask that allows one genotype leaves nothing to mutate to: one line.
    fixed = np.zeros((darts.ARCH_LEN, darts.NUM_OPS), bool)
    fixed[:, 0] = True
    for c in (0, darts.NUM_EDGES):
        for k in (0, 1, 2, 3, 5, 6, 9, 10):
            fixed[c + k] = False
            fixed[c + k, 4] = True
    (single,) = DARTS.mask_archs(fixed)
    with pytest.raises(ArchError, match="no mutation"):
        DARTS.mutate(rng, single, mask=fixed)


@pytest.fixture(scope="module")
def tiny_net():
    cfg = supernet.SupernetConfig(C=4, layers=3)
    params = supernet.init(jax.random.key(0), cfg)
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 12)
    return cfg, params, images, labels


def test_darts_scoring_equals_a_direct_forward_and_compiles_once(tiny_net):
    cfg, params, images, labels = tiny_net
    rng = np.random.default_rng(2)
    archs = darts.sample(rng, 4)
    archs = np.concatenate([archs, archs[:1]])  # a repeat is scored once, reported twice
    sharing = supernet.vanilla_sharing(cfg)
    scoring_darts.arch_scorer.cache_clear()
    got = scoring.score_archs(params, archs, images, labels, cfg=cfg, sharing=sharing,
                              batch_size=4, num_batches=2, progress=False)
    assert scoring_darts.arch_scorer(cfg)._cache_size() == 1  # one program, five genotypes
    assert got["images_per_arch"] == 8
    apply = supernet.jitted_apply(cfg)
    for arch, acc, loss in zip(archs, got["acc"], got["loss"]):
        correct, total = 0, 0.0
        for b in range(2):
            x, y = images[4 * b:4 * b + 4], labels[4 * b:4 * b + 4]
            logits = np.asarray(apply(params, arch, normalize(x), sharing), np.float64)
            correct += int(np.sum(logits.argmax(-1) == y))
            logp = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1,
                                   keepdims=True)) - logits.max(-1, keepdims=True)
            total -= logp[np.arange(4), y].sum()
        assert acc == pytest.approx(100.0 * correct / 8)
        assert loss == pytest.approx(total / 8, rel=1e-5)
    per_arch = np.stack([sharing, supernet.cell_sharing(cfg)] * 2 + [sharing])
    again = scoring.score_archs(params, archs, images, labels, cfg=cfg, sharing=per_arch,
                                batch_size=4, num_batches=2, progress=False)
    assert np.allclose(again["loss"][[0, 2, 4]], got["loss"][[0, 2, 4]], rtol=1e-6)
    assert scoring_darts.arch_scorer(cfg)._cache_size() == 1
    with pytest.raises(ArchError):
        scoring.score_archs(params, np.zeros((1, 28), np.int32), images, labels, cfg=cfg,
                            sharing=sharing, batch_size=4, progress=False)
    with pytest.raises(ConfigError):
        scoring.score_archs(params, archs, images, labels, cfg=cfg, sharing=sharing[:1],
                            batch_size=4, progress=False)


def _edge_oracle(target):
    """Score = normal and reduce entries equal to `target`'s (28 only at the target)."""
    return lambda archs: (np.asarray(archs) == target).sum(1).astype(float)


def test_random_search_and_evolution_return_genotypes():
    target = darts.str_to_arch(darts.GENOTYPES["DARTS_V2"])
    score = _edge_oracle(target)
    found = random_search.search(score, 30, seed=0, space=DARTS)
    assert len(found.archs) == 30 and len({a.tobytes() for a in found.archs}) == 30
    evo = evolution.search(score, 400, seed=0, population_size=20, tournament_size=5,
                           space=DARTS)
    assert evo.score > found.score  # evolution climbs the smooth landscape
    for f in (found, evo):
        assert np.array_equal(DARTS.from_str(DARTS.to_str(f.arch)), f.arch)
    # A small masked space is searched exhaustively, within the mask.
    mask = np.zeros((darts.ARCH_LEN, darts.NUM_OPS), bool)
    mask[:, 0] = True
    for c in (0, darts.NUM_EDGES):
        for k in (0, 1, 2, 3, 5, 6, 9, 10):
            mask[c + k, 0] = False
            mask[c + k, [4, 5]] = True
    mask[0, 6] = True  # 2**16 * 3/2 genotypes: none outside the mask is drawn
    picked = random_search.search(score, 50, seed=1, mask=mask, space=DARTS)
    assert DARTS.allowed(picked.archs, mask).all()
    tiny = mask.copy()
    tiny[:, 5] = False
    tiny[0, 6] = False
    tiny[1, 6] = True  # two genotypes: a budget of 5 scores both, once each
    both = random_search.search(score, 5, seed=0, mask=tiny, space=DARTS)
    assert len(both.archs) == 2


def _darts_config(tiny_config):
    from jaxnas.train import defaults

    config = defaults.darts_scale(tiny_config.copy_and_resolve_references())
    config.supernet.C, config.supernet.layers = 4, 3
    config.train.epochs, config.train.batch_size = 1, 20
    config.eval.batch_size, config.eval.num_batches = 10, 1
    config.search.budget, config.search.population_size, config.search.tournament_size = 5, 3, 2
    config.search.strategy = "evolution"
    return config


@pytest.fixture
def darts_workdir(tiny_config, checkpointed_run):
    """A DARTS run directory holding its initial weights as a checkpoint."""
    config = _darts_config(tiny_config)
    return config, checkpointed_run(config)[0]


def test_darts_search_and_evaluate_commands_on_a_darts_workdir(darts_workdir, tmp_path, capsys):
    """`jaxnas search` (evolution, random) returns genotypes; `jaxnas evaluate --gt` ranks a
    hand-made genotype table, scoring as the run's scorer does; errors are one line."""
    from jaxnas import cli
    from jaxnas.train.open_run import open_run
    from jaxnas.train.scorer import make_score

    _, workdir = darts_workdir
    assert cli.main(["search", "--workdir", str(workdir), "--strategy", "evolution",
                     "--budget", "5", "--population", "3", "--tournament", "2",
                     "--no-progress"]) == 0
    headline = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    result = json.loads((workdir / "search" / "evolution.json").read_text())
    assert headline["ground_truth"] is None and headline["arch"] == result["found"]["arch"]
    arch = DARTS.from_str(headline["arch"])
    assert headline["compact"] == str(darts.to_compact(arch))
    assert result["evaluated"] == 5 and (workdir / "search" / "evolution.png").is_file()
    assert max(s["score"] for s in result["trajectory"]) == result["score"]
    # --gt: a table of genotypes judges the same search (same seed: the cached scores)
    texts = [s["arch"] for s in result["trajectory"]]
    table = tmp_path / "judge.csv"
    genotype_table(table, [(texts[0], 60.0), (texts[1], 70.0), (texts[2], 65.0),
                   (darts.arch_to_str(darts.sample(np.random.default_rng(9), 1)[0]), 80.0)])
    judged_out = tmp_path / "judged.json"
    assert cli.main(["search", "--workdir", str(workdir), "--strategy", "evolution",
                     "--budget", "5", "--population", "3", "--tournament", "2", "--gt",
                     str(table), "--out", str(judged_out), "--no-progress"]) == 0
    headline = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    judged = json.loads(judged_out.read_text())
    assert judged["found"] == result["found"] and headline["table"]["cells"] == 4
    held = {t: a for t, a in zip(texts[:3], (60.0, 70.0, 65.0))}
    best = max(held, key=lambda t: max(s["score"] for s in result["trajectory"]
                                       if s["arch"] == t))
    assert judged["table"]["best_scored_in_table"]["acc"] == held[best]
    assert headline["table"]["best_scored_in_table"]["acc"] == held[best]
    assert [s["table_acc"] for s in judged["trajectory"]][:3] == [60.0, 70.0, 65.0]
    assert judged["table"]["best_in_table"]["acc"] == 80.0
    assert cli.main(["search", "--workdir", str(workdir), "--gt", "nb201-mini"]) == 2
    err = capsys.readouterr().err
    assert "NB201 table" in err and err.count("\n") == 1
    assert cli.main(["search", "--workdir", str(workdir), "--strategy", "random", "--budget",
                     "3", "--no-progress"]) == 0
    capsys.readouterr()
    for argv, words in ((["--strategy", "gdas"], "gdas"),):  # the run trained no gdas logits
        assert cli.main(["search", "--workdir", str(workdir), "--no-progress", *argv]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1

    rng = np.random.default_rng(3)
    genotypes = [darts.arch_to_str(a) for a in darts.sample(rng, 4)]
    table = tmp_path / "table.csv"
    genotype_table(table, zip(genotypes, (60.0, 70.0, 65.0, 55.0)))
    out = tmp_path / "eval.json"
    assert cli.main(["evaluate", "--workdir", str(workdir), "--gt", str(table), "--out",
                     str(out), "--no-progress"]) == 0
    report = json.loads(out.read_text())
    assert report["n"] == 4 and report["space"] == "darts" and report["archs_text"] == genotypes
    assert "table.csv" in report["ground_truth"]
    assert report["ground_truth"].startswith("stand-alone table ")  # named once, not twice
    assert report["ground_truth"].count("stand-alone table") == 1
    assert report["truth"] == [60.0, 70.0, 65.0, 55.0]  # the table's values travel with it
    opened = open_run(workdir)
    assert opened.recipe.run.progress  # --no-progress reaches the techniques of an opened run
    assert not open_run(workdir, needs_data=False, progress=False).recipe.run.progress
    images, labels = opened.recipe.run.valid_data
    direct = make_score(opened.recipe, images=images, labels=labels, batch_size=10,
                        num_batches=1, progress=False)(opened.state, np.stack(
                            [darts.str_to_arch(g) for g in genotypes]))
    assert np.allclose(report["scores"], direct)
    capsys.readouterr()
    assert cli.main(["evaluate", "--workdir", str(workdir)]) == 2
    assert "TABLE.csv" in capsys.readouterr().err
    genotype_table(table, [(genotypes[0], 1.0), ("Genotype(normal=[])", 2.0)])
    assert cli.main(["evaluate", "--workdir", str(workdir), "--gt", str(table)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "\n" not in err.strip()


def test_darts_summary_of_a_gdas_search_has_no_score():
    """GDAS's found genotype is derived, not scored: the summary says so (it raised a TypeError
    formatting the missing score)."""
    from jaxnas.search import pipeline

    arch = darts.GENOTYPES["DARTS_V2"]
    found = {"arch": DARTS.to_str(arch), "compact": str(darts.to_compact(arch)), "score": None,
             "ground_truth": None, "result": "W/search/gdas.json", "plot": None}
    summary = {"workdir": "W", "epochs": 5, "step": 1950, "evaluate": None, "train": {},
               "search": {"gdas": found}, "seconds": {"train": 60, "evaluate": 0, "search": 1}}
    text = pipeline.format_summary(summary)
    assert found["arch"] in text and "no supernet score" in text


@pytest.mark.slow
def test_darts_run_trains_searches_and_summarises(tiny_config, tmp_path):
    """`jaxnas run` in DARTS: SPOS train -> search -> summary (no ground truth, said so)."""
    from jaxnas.search import pipeline

    config = _darts_config(tiny_config)
    workdir = tmp_path / "run"
    summary = pipeline.run(config, workdir, progress=False)
    found = summary["search"]["evolution"]
    arch = DARTS.from_str(found["arch"])
    assert found["ground_truth"] is None and found["compact"] == str(darts.to_compact(arch))
    assert summary["evaluate"] is None
    text = pipeline.format_summary(summary)
    assert "no ground truth" in text and found["arch"] in text and "NB301 compact" in text
    result = json.loads((workdir / "search" / "evolution.json").read_text())
    assert result["evaluated"] == 5 and result["found"]["arch"] == found["arch"]
    again = pipeline.run(config, workdir, progress=False)  # every stage done: nothing redone
    assert again["train"] == "done before" and again["search"] == summary["search"]

    # eval.table: a genotype table ranks the run and judges its search (both redone, since
    # what judged them changed); a malformed one stops `run` before anything is written.
    texts = [s["arch"] for s in result["trajectory"]][:3]  # the seeded initial population
    table = tmp_path / "table.csv"
    genotype_table(table, zip(texts, (60.0, 70.0, 65.0)))
    config.eval.table = str(table)
    judged = pipeline.run(config, workdir, progress=False)
    assert judged["evaluate"]["n"] == 3 and "table.csv" in judged["evaluate"]["ground_truth"]
    found = judged["search"]["evolution"]
    assert found["arch"] == summary["search"]["evolution"]["arch"]
    assert found["table"]["cells"] == 3 and found["table"]["best_scored_in_table"]["acc"] in (
        60.0, 70.0, 65.0)
    text = pipeline.format_summary(judged)
    assert "table valid_acc" in text and "Kendall's tau" in text and "unknown" not in text
    stamps = {p: p.stat().st_mtime_ns for p in workdir.rglob("*.json") if p.name != "summary.json"}
    assert pipeline.run(config, workdir, progress=False)["search"] == judged["search"]
    assert stamps == {p: p.stat().st_mtime_ns for p in workdir.rglob("*.json")
                      if p.name != "summary.json"}
    genotype_table(table, [(texts[0], 1.0), ("Genotype(normal=[])", 2.0)])
    with pytest.raises(GroundTruthError, match="line 3"):
        pipeline.run(config, tmp_path / "never", progress=False)
    assert not (tmp_path / "never").exists()
