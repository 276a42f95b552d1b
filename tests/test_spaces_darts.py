"""Tests of the DARTS / NAS-Bench-301 cell space: codecs, sampling under masks, complexity."""

import jax
import numpy as np
import pytest

from jaxnas import spaces
from jaxnas.errors import ArchError, ConfigError
from jaxnas.spaces import darts

DARTS_V1, DARTS_V2 = darts.GENOTYPES["DARTS_V1"], darts.GENOTYPES["DARTS_V2"]
# As DARTS's train_search.py prints it (concat a range).
SEARCH_PRINT = DARTS_V2.replace("[2, 3, 4, 5]", "range(2, 6)")


def test_registered_and_protocol():
    space = spaces.get("darts")
    assert isinstance(space, spaces.Space)
    assert space.arch_shape == (28,) and space.mask_shape == (28, 8) and space.size is None
    assert space.ops[0] == "none" and len(space.ops) == 8


def test_darts_v2_encoding_and_round_trips():
    arch = darts.str_to_arch(DARTS_V2)
    normal, reduce = arch[:14], arch[14:]
    # node 2 <- sep3(0), sep3(1); node 5 <- skip(0), dil3(2) (edges 9 and 11)
    assert normal[:2].tolist() == [4, 4] and normal[9] == 3 and normal[11] == 6
    assert (normal != 0).sum() == 8 and (reduce != 0).sum() == 8
    text = darts.arch_to_str(arch)
    assert np.array_equal(darts.str_to_arch(text), arch)
    assert np.array_equal(darts.str_to_arch(SEARCH_PRINT), arch)
    assert np.array_equal(darts.from_compact(darts.to_compact(arch)), arch)
    assert np.array_equal(darts.from_nb301_config(darts.to_nb301_config(arch)), arch)
    assert np.array_equal(darts.str_to_arch(repr(darts.to_compact(arch))), arch)
    # NASLib compact op indices omit 'none': max_pool_3x3 is 0
    assert darts.to_compact(arch)[1][0] == (0, 0)
    rng = np.random.default_rng(0)
    for a in darts.sample(rng, 50):
        assert np.array_equal(darts.str_to_arch(darts.arch_to_str(a)), a)
        assert np.array_equal(darts.from_compact(darts.to_compact(a)), a)
        assert np.array_equal(darts.from_nb301_config(darts.to_nb301_config(a)), a)


def test_canonical_form_orders_each_nodes_inputs():
    swapped = DARTS_V1  # node 2 lists input 1 before input 0
    canon = darts.canonical_str(swapped)
    assert canon.startswith("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)")
    assert np.array_equal(darts.str_to_arch(canon), darts.str_to_arch(swapped))
    assert darts.canonical_str(canon) == canon
    archs = darts.sample(np.random.default_rng(1), 4)
    assert np.array_equal(darts.SPACE.canonical(archs), archs)


@pytest.mark.parametrize("text, words", [
    ("Genotype(normal=[('sep_conv_3x3', 0)], normal_concat=[2, 3, 4, 5], reduce=[], "
     "reduce_concat=[2, 3, 4, 5])", "must list 8"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('conv_7x1_1x7', 2)"), "unknown op 'conv_7x1_1x7'"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), "reads input 5"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 0)"), "reads input 0 twice"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('none', 2)"), "op 'none'"),
    (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[4, 5, 6]"), "normal_concat"),
    (DARTS_V2.replace(", reduce_concat=[2, 3, 4, 5]", ""), "lacks field(s) reduce_concat"),
    (DARTS_V2.replace("Genotype(", "Genotype(foo=1, "), "unknown Genotype field 'foo'"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "(__import__('os').getcwd(), 2)"), "not a literal"),
    ("os.system('true')", "must be Genotype"),
    ("Genotype(normal=[", "not a Genotype(...) expression"),
])
def test_malformed_genotypes_one_line(text, words):
    with pytest.raises(ArchError, match=None) as err:
        darts.str_to_arch(text)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_malformed_arrays_and_other_forms():
    arch = darts.str_to_arch(DARTS_V2)
    bad = arch.copy()
    bad[2] = 0  # node 3 of the normal cell keeps one edge
    with pytest.raises(ArchError, match="node 3 of the normal cell has 1 non-none"):
        darts.SPACE.check(bad, batched=False)
    with pytest.raises(ArchError, match=r"shape \[n, 28\]"):
        darts.SPACE.check(arch)
    with pytest.raises(ArchError, match="op index 7"):
        darts.from_compact((((0, 7),) * 8, ((0, 0),) * 8))
    config = darts.to_nb301_config(arch)
    config["NetworkSelectorDatasetInfo:darts:inputs_node_normal_5"] = "1_2"
    with pytest.raises(ArchError, match="inputs_node_normal_5"):
        darts.from_nb301_config(config)
    for method in ("enumerate", "to_index"):
        with pytest.raises(ArchError, match="DARTS space"):
            getattr(darts.SPACE, method)(*(() if method == "enumerate" else ([0],)))


def _shrunk_mask():
    """Normal edge 0 forced on with sep_conv_3x3 only; node 5 of the reduce cell may read only
    inputs 0 and 4 (its other edges must stay unused); everywhere else no dil_conv_5x5."""
    mask = np.ones((28, 8), bool)
    mask[:, 7] = False
    mask[0] = False
    mask[0, 4] = True
    node5 = 14 + 9
    mask[node5 + 1:node5 + 4, 1:] = False
    return mask


def test_sampling_respects_masks_and_is_uniform():
    mask = _shrunk_mask()
    rng = np.random.default_rng(0)
    archs = darts.sample(rng, 1200, mask=mask)
    darts.SPACE.check(archs)
    assert darts.SPACE.allowed(archs, mask).all()
    keys = jax.random.split(jax.random.key(0), 1200)
    jarchs = np.asarray(jax.jit(jax.vmap(darts.SPACE.sample, (0, None)))(keys, mask))
    darts.SPACE.check(jarchs)
    assert darts.SPACE.allowed(jarchs, mask).all()
    # Node 2 of the normal cell: edge 0 is sep_conv_3x3, edge 1 uniform over 6 ops. Node 3
    # (3 pairs, each 6 x 6 op choices) picks each input pair with probability 1/3.
    for a in (archs, jarchs):
        assert (a[:, 0] == 4).all()
        counts = np.bincount(a[:, 1], minlength=8)[1:7] / len(a)
        assert np.allclose(counts, 1 / 6, atol=0.04)
        pairs = (a[:, 2:5] != 0) @ np.array([1, 2, 4])
        assert np.allclose(np.bincount(pairs, minlength=8)[[3, 5, 6]] / len(a), 1 / 3,
                           atol=0.05)
    small = np.zeros((28, 8), bool)
    for cell in range(2):  # every node uses inputs 0 and 1 with skip_connect: one genotype
        for start, n in zip((0, 2, 5, 9), (2, 3, 4, 5)):
            small[cell * 14 + start:cell * 14 + start + 2, 3] = True
            small[cell * 14 + start + 2:cell * 14 + start + n, 0] = True
    assert darts.SPACE.mask_size(small) == 1
    only = darts.SPACE.mask_archs(small)
    assert only.shape == (1, 28)
    assert np.array_equal(np.asarray(darts.SPACE.sample(jax.random.key(3), small)), only[0])


def test_mask_checks_and_text():
    mask = _shrunk_mask()
    assert np.array_equal(darts.str_to_mask(darts.mask_to_str(mask)), mask)
    assert darts.SPACE.mask_size(None) == darts.SPACE.mask_size(darts.SPACE.full_mask())
    assert darts.SPACE.mask_size(None) == (7 * 7 * 3 * 49 * 6 * 49 * 10 * 49) ** 2
    dead = np.ones((28, 8), bool)
    dead[14:16, 1:] = False
    with pytest.raises(ArchError, match="node 2 of the reduce cell"):
        darts.check_mask(dead)
    with pytest.raises(ConfigError, match="space_mask must be 28"):
        darts.str_to_mask("1,2,3")


def test_complexity_matches_darts_reports():
    arch = darts.str_to_arch(DARTS_V2)
    # DARTS's train.py logs "param size = 3.349342MB" for DARTS_V2 (C=36, 20 layers, auxiliary
    # head built but left out of the count), the paper's 3.3M.
    assert darts.num_params(arch) == 3_349_342
    assert darts.num_params(arch, auxiliary=True) > darts.num_params(arch)
    # 528M multiply-adds (D-X-Y's genotype notes for DARTS_V2 on CIFAR).
    assert round(darts.flops(arch) / 1e6) == 528
    f = darts.SPACE.complexity(type("Cfg", (), {"C": 36, "layers": 20, "num_classes": 10}), 32)
    out = jax.jit(f)(np.stack([arch, darts.str_to_arch(DARTS_V1)]))
    assert np.allclose(out["num_params"][0], 3.349342, rtol=1e-6)
    assert np.allclose(out["flops"][0], darts.flops(arch) / 1e6, rtol=1e-6)
    # A smaller width: every conv cost scales with C or C^2, so params shrink.
    assert darts.num_params(arch, C=16, layers=8) < darts.num_params(arch)
    with pytest.raises(ConfigError, match="multiple of 4"):
        darts.flops(arch, resolution=30)


def test_techniques_in_darts_refused_in_one_line():
    """Every technique is ported (close: tests/test_close_darts.py); what DARTS still lacks,
    e.g. a packaged ground truth for landmark, is refused in one line."""
    from jaxnas.train import defaults, rules

    config = defaults.complete(defaults.darts_scale(defaults.base_config(techniques=("close",))))
    rules.check(config, paths=False)
    config = defaults.darts_scale(defaults.base_config(techniques=("landmark",)))
    with pytest.raises(ConfigError) as err:
        rules.check(config, paths=False)
    assert "landmark.table" in str(err.value) and "DARTS" in str(err.value)
    assert "\n" not in str(err.value)


def test_nb201_only_options_refuse_a_darts_run(tmp_path, capsys):
    """Ranking a DARTS run needs a genotype table (no DARTS ground truth ships): evaluate
    without one, or with an NB201 protocol or table, is one line; search reaches the run's
    config."""
    from jaxnas import cli

    (tmp_path / "config.json").write_text('{"space": "darts"}')
    for argv in (["evaluate", "--workdir", str(tmp_path)],
                 ["evaluate", "--workdir", str(tmp_path), "--protocol", "landmark"],
                 ["evaluate", "--workdir", str(tmp_path), "--gt", "nb201-mini"],
                 ["search", "--workdir", str(tmp_path)]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        if "nb201-mini" in argv:  # the same line as search's (`space_table`)
            assert "is an NB201 table" in err and "darts space" in err
        elif argv[0] == "evaluate":
            assert "DARTS" in err and "--gt TABLE.csv" in err
