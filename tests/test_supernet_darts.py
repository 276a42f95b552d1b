"""The DARTS supernet against the PyTorch DARTS search network (fixture written by
tests/fixtures/make_darts_torch.py), its sharing maps and its single compilation."""

import functools
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.errors import ConfigError
from jaxnas.spaces import darts as space
from jaxnas.supernet import darts as supernet

from conftest import genotype_table  # a helper beside the fixtures

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "darts_torch.npz"


@pytest.fixture(scope="module")
def ref():
    data = dict(np.load(FIXTURE))
    C, layers, num_classes = (int(v) for v in data["cfg"])
    cfg = supernet.SupernetConfig(C=C, layers=layers, num_classes=num_classes)
    shapes = jax.eval_shape(lambda: supernet.init(jax.random.key(0), cfg))
    paths, treedef = jax.tree_util.tree_flatten_with_path(shapes)

    def tree(prefix):
        return jax.tree.unflatten(treedef, [jnp.asarray(data[prefix + jax.tree_util.keystr(p)])
                                            for p, _ in paths])

    return {"cfg": cfg, "data": data, "params": tree("param"), "tree": tree}


@pytest.fixture(scope="module")
def step(ref):
    """One jitted (logits, gradients) function for every architecture and sharing map."""
    cfg, labels = ref["cfg"], jnp.asarray(ref["data"]["labels"])

    def loss(params, arch, x, sharing):
        logits = supernet.apply(params, arch, x, sharing, cfg=cfg)
        ce = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1))
        return ce, logits

    return jax.jit(jax.grad(loss, has_aux=True))


def _close(actual, expected, rtol):
    """Max error within `rtol` of the largest reference magnitude (per array)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = max(np.abs(expected).max(), 1e-8)
    return np.abs(actual - expected).max() <= rtol * scale


@pytest.mark.parametrize("which", [0, 1])
def test_logits_and_gradients_equal_pytorch_darts(ref, step, which):
    data = ref["data"]
    grads, logits = step(ref["params"], data["archs"][which], data["x"],
                         supernet.vanilla_sharing(ref["cfg"]))
    assert _close(logits, data[f"logits{which}"], 1e-4)
    expected = ref["tree"](f"grad{which}")
    got = jax.tree_util.tree_leaves_with_path(grads)
    for (path, g), e in zip(got, jax.tree.leaves(expected)):
        assert _close(g, e, 2e-3), jax.tree_util.keystr(path)
    assert any(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads["pools"]))


def test_one_compilation_for_every_genotype_and_sharing_map(ref, step):
    cfg, data = ref["cfg"], ref["data"]
    rng = np.random.default_rng(0)
    archs = space.sample(rng, 3)
    blocks = np.stack([rng.permutation(14) for _ in range(cfg.layers)])
    for arch, sharing in zip(archs, (supernet.vanilla_sharing(cfg), supernet.cell_sharing(cfg),
                                     supernet.sharing_from_blocks(blocks, cfg))):
        supernet.check_sharing(sharing, cfg)
        jax.block_until_ready(step(ref["params"], arch, data["x"], sharing))
    jax.block_until_ready(step(ref["params"], data["archs"][0], data["x"],
                               supernet.vanilla_sharing(cfg)))
    assert step._cache_size() == 1


def test_sharing_map_reads_the_slots_it_names(ref, step):
    """Any map computes the vanilla network on the pools gathered through it."""
    cfg, data = ref["cfg"], ref["data"]
    rng = np.random.default_rng(1)
    vanilla = supernet.vanilla_sharing(cfg)
    shuffled = np.stack([rng.permutation(row.reshape(-1)).reshape(row.shape)
                         for row in vanilla])  # a cell's slots, shuffled over (edge, op)
    params = ref["params"]
    gathered = jax.tree.map(lambda x: x, params)
    for op_index, op in enumerate(space.OPS):
        if op not in supernet.POOLED:
            continue
        for g in range(len(cfg.group_sizes)):
            cells = [i for i, c in enumerate(cfg.cells) if c[5] == g]
            for name, pool in params["pools"][g][op].items():
                rows = np.concatenate([shuffled[i, :, op_index] for i in cells])
                dest = np.concatenate([vanilla[i, :, op_index] for i in cells])
                gathered["pools"][g][op][name] = pool.at[dest].set(pool[rows])
    arch = data["archs"][1]
    _, a = step(params, arch, data["x"], shuffled)
    _, b = step(gathered, arch, data["x"], vanilla)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_bad_configs_and_maps():
    with pytest.raises(ConfigError, match="layers must be at least 3"):
        supernet.SupernetConfig(layers=2)
    with pytest.raises(ConfigError, match="C must be even"):
        supernet.SupernetConfig(C=5)
    cfg = supernet.SupernetConfig(C=4, layers=4)
    with pytest.raises(ConfigError, match="sharing map has shape"):
        supernet.check_sharing(np.zeros((3, 14, 8), np.int32), cfg)
    with pytest.raises(ConfigError, match="slots must lie"):
        supernet.check_sharing(supernet.vanilla_sharing(cfg) + 14, cfg)
    with pytest.raises(ConfigError, match="architecture must have shape"):
        supernet.cell_archs(np.zeros(14, np.int32), cfg)
    with pytest.raises(ConfigError, match="slots_per_cell >= 14"):
        supernet.vanilla_sharing(supernet.SupernetConfig(slots_per_cell=2))
    # The per-cell form [layers, 14] of a [28] architecture computes the same cells.
    arch = space.sample(np.random.default_rng(2))
    per_cell = supernet.cell_archs(arch, cfg)
    assert np.array_equal(supernet.cell_archs(per_cell, cfg), per_cell)
    assert np.array_equal(per_cell[1], arch[14:]) and np.array_equal(per_cell[3], arch[:14])


def test_init_layout_matches_the_widths():
    cfg = supernet.SupernetConfig(C=4, layers=5)
    shapes = jax.eval_shape(functools.partial(supernet.init, cfg=cfg), jax.random.key(0))
    assert cfg.group_sizes == (1, 2, 2)
    assert shapes["pools"][2]["sep_conv_5x5"]["dw1"].shape == (28, 5, 5, 1, 16)
    assert shapes["pools"][1]["skip_connect"]["w1"].shape == (28, 1, 1, 8, 4)
    assert "w1" in shapes["cells"][2]["pre0"] and "w" in shapes["cells"][3]["pre0"]
    assert shapes["head"]["w"].shape == (64, 10)


def test_spos_trains_one_tiny_epoch_in_darts(tiny_config, tmp_path):
    """The base loop trains SPOS in the DARTS space (configs/darts_spos.py:mini's settings on
    the tiny folder), ranks `eval.table`'s genotypes in its epoch's metrics line (no DARTS
    truth ships) and refuses, in one line, what it cannot do there: in-training ranking
    without a table, the `unique_conv` sampler."""
    from jaxnas.train import defaults, loop

    config = defaults.darts_scale(tiny_config.copy_and_resolve_references())
    config.supernet.C, config.supernet.layers = 4, 3
    config.train.epochs, config.train.batch_size = 1, 20
    texts = [space.arch_to_str(a) for a in space.sample(np.random.default_rng(0), 3)]
    genotype_table(tmp_path / "table.csv", zip(texts, (60.0, 70.0, 65.0)))
    config.eval.update(every_epochs=1, batch_size=10, num_batches=1,
                       table=str(tmp_path / "table.csv"))
    loop.train(config, tmp_path / "run", progress=False)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    line = json.loads(lines[-1])
    assert np.isfinite(line["loss"]) and line["eval"]["n"] == line["eval"]["num_archs"] == 3
    assert "table.csv" in line["eval"]["ground_truth"] and "kendall_tau" in line["eval"]
    for key, value, words in (("sampler", "unique_conv", "'sampler'"),
                              ("eval.table", "", "'eval.every_epochs'")):
        bad = config.copy_and_resolve_references()
        block, _, leaf = key.rpartition(".")
        (bad[block] if block else bad)[leaf] = value
        with pytest.raises(ConfigError) as err:
            defaults.check(bad, paths=False)
        assert words in str(err.value) and "DARTS" in str(err.value)
