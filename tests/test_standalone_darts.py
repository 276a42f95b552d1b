"""Stand-alone training of DARTS genotypes in DARTS's search network (`network.kind="search"`):
a genotype in a stack trains as it would alone, one compiled step serves every genotype, the
table is keyed by canonical Genotype text and read by the DARTS ground-truth readers, and a
resumed run ends where an uninterrupted one does. Compiling the tiny train step takes 30-75 s
on the shared CPU, so the training tests are marked slow (JAXNAS_SLOW=1); they share one
compiled K=2 step (`standalone.programs` keeps it), and the comparison with a stack of one
compiles another. The fast tests check the network (forward only), configs and selection."""

import jax
import numpy as np
import pytest

from jaxnas import cli, spaces
from jaxnas.config import load_config
from jaxnas.data import normalize
from jaxnas.errors import ConfigError
from jaxnas.evaluate import groundtruth
from jaxnas.supernet import darts
from jaxnas.techniques.landmark import read_table
from jaxnas.train import standalone, standalone_config, standalone_step as sstep

from conftest import assert_same_table, stack_slot, train_stacks  # helpers beside fixtures

SPACE = spaces.get("darts")
STEPS = 3  # steps per epoch of the tiny runs: 60 training images, batch 20


def _config(tiny_folder, tmp_path, **train):
    c = standalone_config.darts_mini_scale(standalone_config.darts_search_config())
    c.data.source, c.data.cache_dir = str(tiny_folder), str(tmp_path / "cache")
    c.data.resolution, c.data.pad = 8, 1
    c.archs.num = 3
    c.train.update(dict(epochs=1, batch_size=20, k=2, eval_batch_size=64), **train)
    return standalone_config.check(c)


def _genotypes(n=3):
    c = standalone_config.darts_search_config()
    c.archs.num = n
    return standalone.select_archs(c, SPACE)


def test_search_network_is_the_supernet_with_vanilla_sharing():
    """`network_for` in DARTS gives the supernet's forward with the genotype a runtime array
    and one slot per (cell, edge); one compiled evaluation serves every genotype (stacks of
    one here; the slow tests train stacks of two)."""
    cfg = darts.SupernetConfig(C=4, layers=3)
    network = sstep.network_for(SPACE, cfg)
    evaluate = sstep.make_eval_step(network)
    params = jax.jit(jax.vmap(network.init))(jax.random.split(jax.random.key(0), 1))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 8, 8, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 8).astype(np.int32)
    apply = darts.jitted_apply(cfg)
    one = jax.tree.map(lambda a: a[0], params)
    for arch in _genotypes(2):
        loss, _ = evaluate(params, arch[None], images, labels)
        logits = apply(one, arch, normalize(images), darts.vanilla_sharing(cfg))
        want = sstep._cross_entropy(logits, labels).sum()
        np.testing.assert_allclose(loss[0], want, rtol=1e-5)
    assert evaluate._cache_size() == 1


@pytest.fixture(scope="module")
def uninterrupted(tiny_folder, tmp_path_factory):
    """A run of three genotypes two at a time (two stacks, the second padded)."""
    tmp = tmp_path_factory.mktemp("standalone_darts")
    config = _config(tiny_folder, tmp, checkpoint_every_minutes=0.0)
    step = standalone.programs_of(config, STEPS)[1]
    step.clear_cache()
    summary = standalone.train(config, tmp / "run", progress=False)
    return tmp / "run", summary, step._cache_size()


@pytest.mark.slow  # trains: compiling and the run take 30-80 s on the shared CPU
def test_table_keyed_by_genotype_text_and_one_compilation(uninterrupted):
    workdir, summary, compiled = uninterrupted
    assert summary == {"cells": 3, "k": 2, "stacks": 2, "epochs": 1,
                       "table": str(workdir / "table.csv")}
    assert compiled == 1  # both stacks (different genotypes, the second padded): one step
    rows = groundtruth.read_standalone_rows(workdir / "table.csv")
    archs = _genotypes()
    assert [r["arch"] for r in rows] == [SPACE.to_str(a) for a in archs]
    cplx = SPACE.complexity(standalone.net_config(standalone_config.darts_mini_scale(
        standalone_config.darts_search_config())), 8)(archs)
    for j, r in enumerate(rows):
        assert r["arch"].startswith("Genotype(") and r["index"] is None
        assert np.array_equal(SPACE.canonical(SPACE.from_str(r["arch"])[None])[0], archs[j])
        assert (r["epochs"], r["seed"], r["scale"]) == (1, 0, "C4-L3-8px-search")
        assert 0 <= r["valid_acc"] <= 100 and 0 <= r["test_acc"] <= 100
        assert r["params"] == pytest.approx(float(cplx["num_params"][j]))
        assert r["flops"] == pytest.approx(float(cplx["flops"][j]))
    assert len({r["valid_loss"] for r in rows}) == 3
    # the DARTS ground-truth readers: `jaxnas evaluate --gt` and `landmark.table=`
    table = groundtruth.read_arch_table(workdir / "table.csv", SPACE)
    assert table.texts == tuple(r["arch"] for r in rows) and table.epochs == 1
    assert np.array_equal(table.archs, archs)
    landmarks = read_table(str(workdir / "table.csv"), "valid_acc", space=SPACE)
    assert sorted(np.asarray(landmarks.acc).tolist()) == sorted(r["valid_acc"] for r in rows)


@pytest.mark.slow  # trains: compiling and the run take 30-80 s on the shared CPU
def test_resume_ends_with_the_uninterrupted_table(uninterrupted, tiny_folder, tmp_path,
                                                  interrupted_standalone):
    """Killed in the second stack's epoch (after a step checkpoint), then resumed."""
    config = _config(tiny_folder, tmp_path, checkpoint_every_minutes=0.0)
    assert len(interrupted_standalone(config, tmp_path / "run")) == 2  # stack 1 finished
    standalone.train(config, tmp_path / "run", resume=True, progress=False)
    assert_same_table(tmp_path / "run" / "table.csv", uninterrupted[0] / "table.csv")


@pytest.mark.slow  # trains: compiling and the run take 30-80 s on the shared CPU
def test_stack_slots_are_independent_and_one_compilation(tiny_folder, tmp_path):
    """Genotype a ends with the same parameters in slot 0 of [a, b] and slot 1 of [b, a], and
    a third genotype reuses the compiled step (genotypes are runtime arrays)."""
    init, step, _, _ = standalone.programs_of(_config(tiny_folder, tmp_path), STEPS)
    archs = _genotypes()
    together, swapped, other = train_stacks(init, step, SPACE, archs,
                                            [(0, 1), (1, 0), (2, 0)])
    assert step._cache_size() == 1
    for x, y in zip(stack_slot(together, 0), stack_slot(swapped, 1)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    for x, y in zip(stack_slot(together, 0), stack_slot(other, 1)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    # each network its own initialisation
    assert not np.allclose(stack_slot(together, 0)[0], stack_slot(together, 1)[0])


@pytest.mark.slow  # ~30 s more: compiles the step of a stack of one
def test_a_genotype_in_a_stack_trains_as_it_would_alone(tiny_folder, tmp_path):
    init, step, _, _ = standalone.programs_of(_config(tiny_folder, tmp_path), STEPS)
    init1, step1, _, _ = standalone.programs_of(_config(tiny_folder, tmp_path, k=1), STEPS)
    archs = _genotypes()
    (together,) = train_stacks(init, step, SPACE, archs, [(0, 1)])
    alone = train_stacks(init1, step1, SPACE, archs, [(0,), (1,)])
    for j in range(2):
        for x, z in zip(stack_slot(together, j), stack_slot(alone[j], 0)):
            np.testing.assert_allclose(x, z, rtol=1e-4, atol=1e-5)


def test_configs_and_one_line_errors(tiny_folder, tmp_path, capsys):
    mini = standalone_config.check(load_config("configs/standalone.py:mini,darts"), paths=False)
    paper = standalone_config.check(load_config("configs/standalone.py:paper,darts"),
                                    paths=False)
    assert standalone_config.config_type(mini) == "darts_search"
    assert (mini.network.C, mini.network.layers, mini.data.resolution, mini.data.pad) == (
        4, 3, 16, 2)
    assert (paper.network.C, paper.network.layers, paper.data.resolution) == (16, 8, 32)
    o, t = paper.optim, paper.train
    assert (o.lr, o.min_lr, o.momentum, o.nesterov, o.weight_decay, o.clip, t.batch_size) == (
        0.025, 0.001, 0.9, False, 3e-4, 5.0, 64)  # the DARTS supernet's SGD
    assert standalone_config.scale(mini) == "C4-L3-16px-search"
    assert isinstance(standalone.net_config(mini), darts.SupernetConfig)
    # `jaxnas final`'s config stays the evaluation network (no network.kind)
    final = standalone_config.check(load_config("configs/darts_final.py:mini"), paths=False)
    assert standalone_config.config_type(final) == "darts" and "kind" not in final.network
    for key, value, message in (("network.kind", "serch", "network.kind"),
                                ("network.C", 5, "even"),
                                ("data.resolution", 18, "multiple of 4")):
        bad = load_config("configs/standalone.py:mini,darts")
        standalone_config.override(bad, [f"{key}={value}"])
        with pytest.raises(ConfigError, match=message):
            standalone_config.check(bad, paths=False)
    assert cli.main(["standalone", "--config", "configs/standalone.py:mini,darts", "--workdir",
                     str(tmp_path / "w"), "--data", str(tiny_folder), "network.kind=eval"]) == 2
    err = capsys.readouterr().err
    assert "network.kind" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ConfigError, match="not a scale"):
        load_config("configs/standalone.py:mini,dart")


def test_genotype_file_and_selection(tmp_path):
    archs = _genotypes(5)
    assert len({SPACE.to_str(a) for a in archs}) == 5
    assert np.array_equal(SPACE.canonical(archs), archs)
    path = tmp_path / "genotypes.txt"
    path.write_text("# two genotypes\n" + "\n".join(SPACE.to_str(a) for a in archs[:2]) + "\n")
    assert np.array_equal(standalone.read_arch_file(path, SPACE), archs[:2])
