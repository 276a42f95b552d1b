"""GDAS in the DARTS space: the weighted single-path forward, the architecture gradient, the
genotype derivation, and a tiny run searched by `jaxnas search --strategy gdas`."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.spaces import DARTS, darts
from jaxnas.supernet import darts as supernet
from jaxnas.techniques import gdas


@pytest.fixture(scope="module")
def tiny_net():
    cfg = supernet.SupernetConfig(C=4, layers=3)
    params = supernet.init(jax.random.key(0), cfg)
    x = jax.random.normal(jax.random.key(1), (6, 8, 8, 3))
    labels = jnp.arange(6) % 10
    return cfg, params, x, labels, supernet.vanilla_sharing(cfg)


def test_zero_weighted_edges_are_the_genotype_and_one_compilation_serves_all(tiny_net):
    """An architecture with ops on every edge, its non-genotype edges weighted 0 and its
    genotype's 1, computes the genotype's single path; hard Gumbel weights (one in value)
    compute the sampled architecture's. One program for every op, weight and tau."""
    cfg, params, x, _, sharing = tiny_net
    run = jax.jit(lambda a, w: supernet.apply(params, a, x, sharing, cfg=cfg, edge_weights=w))
    same = jax.jit(lambda a: supernet.apply(params, a, x, sharing, cfg=cfg))
    def fwd(a, w):
        return run(jnp.asarray(a, jnp.int32), jnp.asarray(w, jnp.float32))
    def plain(a):
        return same(jnp.asarray(a, jnp.int32))
    rng = np.random.default_rng(0)
    for _ in range(2):
        genotype = DARTS.sample_np(rng)
        used = genotype > 0
        busy = np.where(used, genotype, rng.integers(1, darts.NUM_OPS, darts.ARCH_LEN))
        np.testing.assert_allclose(fwd(busy, used.astype(np.float32)), plain(genotype),
                                   rtol=1e-5, atol=1e-6)
    alpha = jax.random.normal(jax.random.key(2), (darts.ARCH_LEN, darts.NUM_OPS))
    for tau, seed in ((10.0, 3), (0.1, 4)):
        ops, hard = gdas.hard_gumbel(jax.random.key(seed), alpha, tau)
        weights, _ = gdas.edge_affine(ops, hard)
        np.testing.assert_allclose(fwd(ops, weights), plain(ops), rtol=1e-5, atol=1e-6)
    assert not np.allclose(fwd(busy, np.full(darts.ARCH_LEN, 2.0, np.float32)), plain(busy))
    assert run._cache_size() == 1 and same._cache_size() == 1


def test_architecture_gradient_reaches_alpha_through_the_sampled_ops(tiny_net):
    """One program for every alpha and tau; the gradient is finite, non-zero on each edge whose
    sampled op is not `none` (its output is scaled by its hard weight) and zero on the others
    (`none` outputs zeros) and on masked ops."""
    cfg, params, x, labels, sharing = tiny_net
    mask = np.ones((darts.ARCH_LEN, darts.NUM_OPS), bool)
    mask[3, 5:] = False

    def forward(ops, x, weights, offsets):
        del offsets  # the DARTS forward scales the sampled op only
        return supernet.apply(params, ops, x, sharing, cfg=cfg, edge_weights=weights)

    @jax.jit
    def grad(alpha, key, tau):
        ops, _ = gdas.hard_gumbel(key, alpha, tau, mask)
        g = jax.grad(gdas.arch_loss)(alpha, key, tau, mask, forward, x, labels)
        return ops, g

    for i, tau in enumerate((10.0, 1.0, 0.1)):
        alpha = 1e-3 * jax.random.normal(jax.random.key(10 + i), mask.shape)
        ops, g = (np.asarray(a) for a in grad(alpha, jax.random.key(i), tau))
        assert np.isfinite(g).all() and (g[~mask] == 0).all()
        live = ops > 0
        assert (np.abs(g[live]).sum(-1) > 0).all() and (g[~live] == 0).all()
    assert grad._cache_size() == 1


def test_edge_weight_gradient_matches_finite_differences(tiny_net):
    """In float64 (scoped x64), d loss / d edge_weights of an architecture with ops on all
    28 edges equals central differences along random directions; `none` edges get zero."""
    cfg, params, x, labels, sharing = tiny_net
    rng = np.random.default_rng(5)
    with jax.enable_x64(True):
        net = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        x64, ops = jnp.asarray(x, jnp.float64), jnp.asarray(rng.integers(0, 8, 28), jnp.int32)

        @jax.jit
        def loss(w):
            logits = supernet.apply(net, ops, x64, sharing, cfg=cfg, edge_weights=w)
            return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(len(labels)), labels])

        w = jnp.asarray(1.0 + 0.1 * rng.normal(size=darts.ARCH_LEN))
        g = jax.jit(jax.grad(loss))(w)
        assert g.dtype == jnp.float64 and (g[np.asarray(ops) == 0] == 0).all()
        for _ in range(2):
            v = jnp.asarray(rng.normal(size=darts.ARCH_LEN))
            fd = (loss(w + 1e-5 * v) - loss(w - 1e-5 * v)) / 2e-5
            np.testing.assert_allclose(float(g @ v), float(fd), rtol=1e-6, atol=1e-9)


def _darts_parse(alpha):
    """DARTS's `genotype()._parse` (quark0/darts model_search.py) written out literally."""
    arch = np.zeros(darts.ARCH_LEN, np.int32)
    for c in range(2):
        e = np.exp(alpha[c * 14:(c + 1) * 14] - alpha[c * 14:(c + 1) * 14].max(-1, keepdims=True))
        w = e / e.sum(-1, keepdims=True)
        start = 0
        for node in range(4):
            rows = w[start:start + node + 2]
            edges = sorted(range(node + 2), key=lambda j: -max(rows[j][k] for k in range(1, 8)))
            for j in edges[:2]:
                arch[c * 14 + start + j] = 1 + int(np.argmax(rows[j][1:]))
            start += node + 2
    return arch


def test_derivation_is_darts_top_two_and_always_a_valid_genotype():
    rng = np.random.default_rng(0)
    for trial in range(200):
        alpha = rng.normal(size=(darts.ARCH_LEN, darts.NUM_OPS)) * rng.choice([1e-3, 1.0, 5.0])
        arch = gdas.derive(alpha, space=DARTS)
        DARTS.check(arch, batched=False)
        np.testing.assert_array_equal(arch, _darts_parse(alpha))
        mask = rng.random((darts.ARCH_LEN, darts.NUM_OPS)) < 0.4
        mask[np.arange(darts.ARCH_LEN), rng.integers(0, 8, darts.ARCH_LEN)] = True
        try:
            DARTS.check_mask(mask)
        except darts.ArchError:
            continue  # some node keeps no genotype: not a space
        inside = gdas.derive(alpha, mask, DARTS)
        DARTS.check(inside, batched=False)
        assert DARTS.allowed(inside[None], mask)[0]
        assert DARTS.from_str(DARTS.to_str(inside)).tolist() == inside.tolist()
    # A node's strongest edge is kept with its best real op, however strong `none` is there.
    alpha = np.zeros((darts.ARCH_LEN, darts.NUM_OPS))
    alpha[9, 0], alpha[9, 6] = 50.0, 3.0  # node 5 reads node 0: `none` dominates, dil_conv_3x3
    alpha[12, 4] = 9.0  # node 5 reads node 3 by sep_conv_3x3, far the strongest
    arch = gdas.derive(alpha, space=DARTS)
    assert arch[12] == 4 and arch[9] == 0  # softmax: edge 9's real ops are ~e-50 weak
    alpha[9, 0] = 0.0
    assert gdas.derive(alpha, space=DARTS)[9] == 6


def _gdas_config(tiny_config, epochs):
    from jaxnas.train import defaults

    config = defaults.darts_scale(defaults.base_config(techniques=("gdas",)))
    for block in ("data", "train"):
        config[block].update(tiny_config[block].to_dict())
    config.supernet.C, config.supernet.layers = 4, 3
    config.train.epochs, config.train.batch_size = epochs, 20
    config.eval.batch_size, config.eval.num_batches = 10, 1
    config.gdas.warmup_epochs = epochs - 1  # a uniform warm-up before one GDAS epoch
    config.gdas.arch_lr = 0.05  # visible movement in a few steps
    return config


def _search_gdas(workdir, capsys):
    """`jaxnas search --strategy gdas` on `workdir`: its headline and its result file."""
    from jaxnas import cli

    assert cli.main(["search", "--workdir", str(workdir), "--strategy", "gdas",
                     "--no-progress"]) == 0
    headline = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    result = json.loads((workdir / "search" / "gdas.json").read_text())
    arch = DARTS.from_str(headline["arch"])
    assert headline["compact"] == str(darts.to_compact(arch)) == result["found"]["compact"]
    assert headline["ground_truth"] is None and result["space"] == "darts"
    return arch, result


def test_search_gdas_on_a_darts_workdir_returns_the_derived_genotype(tiny_config,
                                                                     checkpointed_run, capsys):
    """A DARTS GDAS run's checkpoint (no training step: DARTS's train step compiles for a
    minute here; the slow test trains): the search returns `derive(alpha)`."""
    from jaxnas.train import rules

    config = _gdas_config(tiny_config, epochs=1)
    rules.check(config, paths=False)  # gdas is no longer refused in DARTS
    workdir, state = checkpointed_run(config)
    alpha = np.asarray(state.extra[gdas.NAME]["alpha"])
    assert alpha.shape == (darts.ARCH_LEN, darts.NUM_OPS)
    arch, result = _search_gdas(workdir, capsys)
    assert arch.tolist() == DARTS.derive(alpha).tolist()
    assert np.allclose(result["alpha"], alpha.round(6), atol=1e-6)


@pytest.mark.slow
def test_tiny_darts_gdas_run_trains_alpha_and_searches_it(tiny_config, tmp_path, capsys):
    """`jaxnas run`, two tiny epochs (C=4, 3 cells, 8x8 images): a uniform warm-up epoch, then
    one of GDAS (architecture steps move alpha); its search, and `jaxnas search --strategy
    gdas`, return the derived genotype and the per-epoch trajectory from the metrics log."""
    from jaxnas.search import pipeline
    from jaxnas.train import recipe as recipe_lib
    from jaxnas.train.open_run import open_run

    config = _gdas_config(tiny_config, epochs=2)
    workdir = tmp_path / "run"
    built, build = [], recipe_lib.build
    recipe_lib.build = lambda *a, **k: built.append(build(*a, **k)) or built[-1]
    try:
        summary = pipeline.run(config, workdir, search={"strategy": "gdas"}, progress=False)
    finally:
        recipe_lib.build = build
    # One program for both epochs: the GDAS phase, tau and held-out order are arguments.
    assert max(r.train_step._cache_size() for r in built) == 1
    assert list(summary["search"]) == ["gdas"] and summary["evaluate"] is None
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["gdas_active"] for r in lines] == [False, True]
    assert all("gdas_index" not in r for r in lines)
    for r in lines:
        DARTS.from_str(r["gdas_arch"])
    opened = open_run(workdir)
    alpha = np.asarray(opened.state.extra[gdas.NAME]["alpha"])
    init = np.asarray(opened.recipe.init().extra[gdas.NAME]["alpha"])
    assert np.abs(alpha - init).max() > 1e-2  # one epoch of architecture steps moved it
    assert summary["search"]["gdas"]["arch"] == DARTS.to_str(DARTS.derive(alpha))
    arch, result = _search_gdas(workdir, capsys)
    assert arch.tolist() == DARTS.derive(alpha).tolist()
    assert [s["x"] for s in result["trajectory"]] == [0, 1, 2.0]
    assert (workdir / "search" / "gdas.png").is_file()
