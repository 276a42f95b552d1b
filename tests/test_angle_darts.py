"""The ABS angle over DARTS paths (AngleNAS's DARTS vector): the fast block-sum path equals the
reference's concatenate-then-cosine, computed here directly in float64."""

import jax
import numpy as np

from jaxnas.evaluate import angle_darts as A
from jaxnas.spaces import DARTS
from jaxnas.spaces.darts import OPS
from jaxnas.supernet import darts


def _vector(params, arch, sharing, cfg):
    """AngleNAS's `get_arch_vector`, directly: fixed parts, then per cell and live path to
    node 5 the kernels of each edge's op (pools: a [C, 3, 3] block of 1/9; skip: nothing)."""
    parts = [np.asarray(leaf, np.float64).ravel() for leaf in A.fixed_leaves(params)]
    for i, (width, reduction, _, _, _, group, _) in enumerate(cfg.cells):
        ops = arch[14:] if reduction else arch[:14]
        for path in A.PATHS:
            if any(ops[e] == 0 for e in path):
                continue
            for e in path:
                name = OPS[ops[e]]
                if name in A.BLOCKS:
                    pool = params["pools"][group][name]
                    parts += [np.asarray(pool[k][sharing[i, e, ops[e]]], np.float64).ravel()
                              for k in A.BLOCKS[name]]
                elif name in A.POOLS:
                    parts.append(np.full(width * 9, 1 / 9))
    return np.concatenate(parts)


def test_darts_angle_equals_the_concatenated_vectors():
    cfg = darts.SupernetConfig(C=4, layers=3)
    ref = darts.init(jax.random.key(0), cfg)
    # The current weights: the initial ones moved a little (a small, realistic angle) and one
    # op's pool moved a lot, so that genotypes using it turn further.
    noise = darts.init(jax.random.key(1), cfg)
    cur = jax.tree.map(lambda a, b: a + 0.3 * b, ref, noise)
    cur["pools"][0]["sep_conv_3x3"]["pw1"] = 3.0 * noise["pools"][0]["sep_conv_3x3"]["pw1"]
    sharing = darts.vanilla_sharing(cfg)
    archs = DARTS.sample_np(np.random.default_rng(0), 12)
    archs[0, :14] = np.where(archs[0, :14] > 0, 4, 0)  # sep_conv_3x3 on every used normal edge
    archs[1, :14] = np.where(archs[1, :14] > 0, 3, 0)  # skip only: just fixed parts and pools
    got = np.asarray(A.all_angles(ref, cur, archs, sharing, cfg=cfg))
    want = []
    for arch in archs:
        v0, vt = _vector(ref, arch, sharing, cfg), _vector(cur, arch, sharing, cfg)
        want.append(np.arccos(v0 @ vt / np.linalg.norm(v0) / np.linalg.norm(vt)))
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    assert got[0] > np.median(got) > got[1]  # the turned pool vs skip only
    assert len(set(np.round(got, 5).tolist())) == len(archs)  # the angle tells cells apart
    same = np.asarray(A.all_angles(ref, ref, archs, sharing, cfg=cfg))
    assert (same == 0).all()  # identical weights: exactly 0, not NaN
