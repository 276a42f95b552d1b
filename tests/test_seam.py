"""The technique seam changed no result: every shipped mini config, shrunk and with each
technique's phase in the first epochs, gives the parameters and technique state the code before
the seam gave (`tests/fixtures/make_params_before_seam.py`, written at 0d8a1eb), with the same
compile counts. Floats as `conftest.assert_trained_like` judges them (within 2% of how far
training moved each leaf: XLA's rounding depends on the CPU model, and a stored array cannot
demand bit equality across machines); masks and counts exactly. An exact mask is safe while
ABS's shrink decides far from a tie: its first kept operator scores 2.8e-5 (combined) and 1.1e-5
(abs) above its last dropped one in mean angle (the test checks > 1e-7), while compiling at XLA's
default level instead of level 0 moved any operator's score by at most 2.1e-9 (2026-12-07)."""

from pathlib import Path

import numpy as np
import pytest

from conftest import assert_trained_like, host_leaves  # helpers beside the fixtures
from jaxnas.config import load_config
from jaxnas.techniques.abs import shrink as shrink_lib
from jaxnas.train import recipe as recipe_lib

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests/fixtures/params_before_seam.npz"
# The fixture's names (the mini config files of 0d8a1eb) -> the config that is each one now.
CONFIGS = {name: f"nb201_{name}.py:mini" for name in (
    "spos", "close", "landmark", "abs", "gdas", "spos_calr_ms", "fairnas_calr_ms", "combined")}
CONFIGS["close_faithful_schedule"] = "nb201_close.py:mini,faithful_schedule"
CONFIGS["close_structure"] = "nb201_close.py:mini,structure"
EPOCHS, SPE, BATCH = 3, 3, 8
# Technique state keys before the seam -> now (the space mask moved to `state.space`).
RENAMED = {"['angle']": "['abs']", "['search.gdas']": "['gdas']"}
MOVED_TO_SPACE = ("['angle']['mask']", "['search.gdas']['mask']")


def shrink(c):
    """The fixture script's shrinking, in today's names."""
    c.supernet.C, c.train.epochs, c.train.batch_size = 4, EPOCHS, BATCH
    c.eval.every_epochs = 0
    names = set(c.techniques)
    if "close" in names:
        c.sampler = "uniform"  # the fixture predates the reference sampler (now the default)
        c.close.k_max = 2
        c.close.cl_schedule, c.close.restart_epochs = (1, 2), (3,)
        c.close.gate.gcn_out_dims, c.close.gate.mlp_dims = (16, 16), (16,)
        c.close.gate.op_emb_dim = c.close.gate.node_emb_dim = c.close.gate.hid_dim = 8
        if c.close.lr_schedule == "plateau":
            c.close.plateau.patience = 1
    if "landmark" in names:
        c.landmark.warmup_epochs, c.landmark.eval_reserve = 1, 0
    if "abs" in names:
        c.abs.shrink.start_epoch = 1
    if "gdas" in names:
        c.gdas.warmup_epochs = 1
    return c


TIE = 1e-7  # a shrink closer than this to a tie could drop another operator on another CPU


def shrink_margins(monkeypatch):
    """Record, at each ABS shrink, its lowest kept score minus its highest dropped one."""
    margins, drop = [], shrink_lib.drop_operators

    def recorded(scores, mask, num, **kw):
        new, dropped = drop(scores, mask, num, **kw)
        mask = np.asarray(mask, bool)
        kept = mask & new & (mask.sum(axis=1, keepdims=True) > 1) & ~np.isnan(scores)
        if dropped and kept.any():
            margins.append(np.min(scores[kept]) - max(scores[e, o] for e, o in dropped))
        return new, dropped
    monkeypatch.setattr(shrink_lib, "drop_operators", recorded)
    return margins


def run(name):
    c = shrink(load_config(ROOT / "configs" / CONFIGS[name]))
    rng = np.random.default_rng(0)
    valid = (rng.integers(0, 256, (64, 16, 16, 3), dtype=np.uint8),
             rng.integers(0, 10, (64,)).astype(np.int32))
    recipe_lib.defaults.check(c)
    r = recipe_lib.build(c, recipe_lib.make_run(c, SPE, valid_data=valid))
    state = r.init()
    init = _leaves(state)
    for epoch in range(1, EPOCHS + 1):
        state, step_args, _ = r.epoch_start(state, epoch)
        for _ in range(SPE):
            images = rng.integers(0, 256, (BATCH, 16, 16, 3), dtype=np.uint8)
            labels = rng.integers(0, 10, (BATCH,)).astype(np.int32)
            state, _ = r.train_step(state, images, labels, step_args)
    return init, _leaves(state), np.asarray(state.space), r.train_step._cache_size()


def _leaves(state):
    return {**host_leaves(state.params, "params"), **host_leaves(state.extra, "extra")}


# CI trains SPOS and the config that combines every technique; each technique's own config is
# slow (JAXNAS_SLOW=1): their steps are the combined one's pieces, each also tested on its own.
IN_CI = ("spos", "combined")


@pytest.mark.parametrize("name", [n if n in IN_CI else pytest.param(n, marks=pytest.mark.slow)
                                  for n in CONFIGS])
def test_mini_configs_train_as_before_the_seam(name, monkeypatch):
    margins = shrink_margins(monkeypatch)
    reference = np.load(FIXTURE)
    expected = {k.split("/", 1)[1]: reference[k] for k in reference.files
                if k.startswith(name + "/")}
    init, got, space, compiles = run(name)
    assert compiles == int(expected.pop("compiles"))
    renamed = {}
    for key, value in expected.items():
        if any(key == "extra" + moved for moved in MOVED_TO_SPACE):
            assert all(m > TIE for m in margins), f"a shrink within {TIE} of a tie: {margins}"
            np.testing.assert_array_equal(space, value)  # a mask: exact
            continue
        for old, new in RENAMED.items():
            key = key.replace(old, new, 1)
        renamed[key] = value
    assert_trained_like(got, renamed, init)
