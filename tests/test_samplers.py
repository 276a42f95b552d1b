"""The `unique_conv` sampler (CLOSE's reference sampler) against a host-side reference: which
cells it may draw, under which masks, how evenly, with one compilation; and the CLOSE configs
that use it."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas.config import apply_overrides, load_config
from jaxnas.spaces import NB201, nb201
from jaxnas.train import defaults, samplers

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
CONV = (nb201.OPS.index("nor_conv_1x1"), nb201.OPS.index("nor_conv_3x3"))
# Every path from node 0 to node 3, as positions in `nb201.EDGES` order.
PATHS = ((3,), (0, 4), (1, 5), (0, 2, 5))
SMALL = "014,4,01234,13,04,4"  # 18 representatives: 12 with a live conv, 6 without
NO_CONV = "014,014,014,014,014,014"


def reference_live_conv(ops):
    """A conv on some path from node 0 to node 3 none of whose edges is `none` (walks paths)."""
    ops = [nb201.OPS[o] for o in ops]
    return any(all(ops[k] != "none" for k in path) and any(nb201.OPS.index(ops[k]) in CONV
                                                            for k in path) for path in PATHS)


def allowed_reps(text):
    """Official indices of the representatives the mask `text` allows, and whether each
    qualifies under the reference predicate."""
    reps = nb201.unique_indices()
    reps = reps[nb201.in_space(reps, nb201.str_to_mask(text))]
    return reps, np.array([reference_live_conv(a) for a in nb201.all_archs()[reps]])


def jitted():
    """`unique_conv` over NB201, jitted and batched over keys (the mask shared)."""
    return jax.jit(jax.vmap(samplers.make("unique_conv", NB201), in_axes=(0, None)))


def draw(mask_text, n, seed=0, sample=None):
    """Official indices of `n` draws of `unique_conv` under the mask `mask_text`."""
    keys = jax.random.split(jax.random.key(seed), n)
    archs = (sample or jitted())(keys, {"mask": jnp.asarray(nb201.str_to_mask(mask_text))})
    return NB201.to_index(np.asarray(archs)[:, 0])


def test_measured_counts():
    """The numbers in `samplers.unique_conv`'s docstring: 1,983 of the 15,625 cells (12.69%,
    the 12.7% aw_nas rejects) have no conv on a live path; 6,321 of the 6,466 representatives
    have one. `nb201.live_conv` agrees with the path walk on every cell and is constant on every
    isomorphism class (so sampling representatives = the reference's rejection sampling)."""
    every = nb201.all_archs()
    walked = np.array([reference_live_conv(a) for a in every])
    np.testing.assert_array_equal(nb201.live_conv(every), walked)
    assert (~walked).sum() == 1983 and round(100 * (~walked).mean(), 1) == 12.7
    assert walked[nb201.unique_indices()].sum() == 6321
    np.testing.assert_array_equal(walked, walked[nb201.canonical_indices()])


def test_draws_only_qualifying_representatives():
    drawn = draw("", 400)
    reps = set(nb201.unique_indices().tolist())
    assert set(drawn.tolist()) <= reps
    assert all(reference_live_conv(a) for a in nb201.all_archs()[drawn])
    assert len(set(drawn.tolist())) > 350  # spread over the 6,321, not a few cells


def test_respects_a_shrunk_mask():
    mask = nb201.str_to_mask("3,23,1234,3,23,234")
    drawn = draw("3,23,1234,3,23,234", 300, seed=1)
    archs = nb201.all_archs()[drawn]
    assert mask[np.arange(6), archs].all()
    assert all(reference_live_conv(a) for a in archs)


def test_uniform_over_the_qualifying_representatives_of_a_small_space():
    reps, qualifies = allowed_reps(SMALL)
    assert len(reps) == 18 and qualifies.sum() == 12  # the mask also allows 6 it must not draw
    n = 4000
    values, counts = np.unique(draw(SMALL, n, seed=2), return_counts=True)
    np.testing.assert_array_equal(values, np.sort(reps[qualifies]))
    expected = n / qualifies.sum()
    assert (counts > 0.75 * expected).all() and (counts < 1.25 * expected).all(), counts


def test_a_mask_without_qualifying_cells_falls_back_to_its_representatives():
    reps, qualifies = allowed_reps(NO_CONV)
    assert len(reps) and not qualifies.any()
    drawn = draw(NO_CONV, 300, seed=3)
    assert set(drawn.tolist()) <= set(reps.tolist())
    assert len(set(drawn.tolist())) > 20


def test_one_compilation_for_every_mask():
    sample = jitted()
    for text in ("", SMALL, NO_CONV, "3,23,1234,3,23,234"):
        draw(text, 8, sample=sample)
    assert sample._cache_size() == 1


@pytest.mark.parametrize("arg", ["paper", "mini", "paper,structure", "mini,structure",
                                 "mini,faithful_schedule"])
def test_close_configs_sample_as_the_reference(arg):
    config = load_config(CONFIGS / "nb201_close.py", arg)
    assert config.sampler == "unique_conv"
    apply_overrides(config, ["sampler=uniform"])  # the earlier runs' sampler stays available
    assert defaults.check(config, paths=False).sampler == "uniform"
