"""CLOSE wired into training: curriculum across epochs, masking, resume, restarts, scoring."""

import json

import jax
import numpy as np
import optax
import pytest

from jaxnas import config as config_lib
from jaxnas.close.masking import masked_sgd, restart_opt_state
from jaxnas.errors import ConfigError
from jaxnas.evaluate import run
from jaxnas.optim import cosine_schedule
from jaxnas.train import defaults, loop, step as step_lib
from test_train import _restore, assert_resume_equivalent, tiny_recipe


@pytest.fixture
def close_config(tiny_config):
    """Three epochs of 3 steps; blocks 1, 2, 3 become active at epochs 1, 2, 3; SRT at epoch 3."""
    config = config_lib.from_json(config_lib.to_json(tiny_config),
                                  base=defaults.base_config(("close",)))
    config_lib.apply_overrides(config, [
        "techniques=('close',)", "supernet.slots_per_cell=3", "close.k_max=3", "close.cl_schedule=(1,2,3)",
        "close.restart_epochs=(3,)", "train.epochs=3", "close.gate.op_emb_dim=8",
        "close.gate.node_emb_dim=8", "close.gate.hid_dim=8", "close.gate.gcn_out_dims=(16,16)",
        "close.gate.mlp_dims=(16,)", "eval.batch_size=20"])
    return config


def _pool_slots(params, block):
    """The conv weights of GLOW block `block` of every cell (N = 1, so slot = block)."""
    return [np.asarray(pool[name][block]) for pool in params["supernet"]["pools"]
            for name in ("conv1x1", "conv3x3")]


def test_curriculum_runs_in_one_compilation_and_logs_the_sharing_extent(close_config, tmp_path,
                                                                         monkeypatch):
    steps = []
    make = step_lib.make_train_step
    monkeypatch.setattr(step_lib, "make_train_step", lambda *a, **k: steps.append(make(*a, **k))
                        or steps[-1])
    loop.train(close_config, tmp_path / "run", progress=False)
    assert len(steps) == 1 and steps[0]._cache_size() == 1  # levels 1, 2, 3: one compilation
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    log = [json.loads(line) for line in lines]
    assert [r["sharing"]["level"] for r in log] == [1, 2, 3]
    params_in_use = [r["sharing"]["active_op_params"] for r in log]
    assert params_in_use[1] == 2 * params_in_use[0] and params_in_use[2] == 3 * params_in_use[0]
    # SRT: the learning rate restarts at epoch 3 (the logged lr is that of each epoch's last step).
    o = close_config.optim
    lr = cosine_schedule(o.lr, o.min_lr, 9, restarts=[6])
    assert float(lr(6)) == pytest.approx(close_config.optim.lr)
    assert log[2]["lr"] == pytest.approx(float(lr(8)))


def test_inactive_blocks_stay_at_their_init(close_config, tmp_path):
    config_lib.apply_overrides(close_config, ["train.epochs=1"])
    loop.train(close_config, tmp_path / "run", progress=False)
    state = _restore(tmp_path / "run", close_config)
    init = tiny_recipe(close_config, 3).init().params
    for block in (1, 2):  # level 1 for the whole epoch: blocks 2 and 3 untouched, bit for bit
        for a, b in zip(_pool_slots(state.params, block), _pool_slots(init, block)):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(_pool_slots(state.params, 0)[1], _pool_slots(init, 0)[1])
    trace = state.opt_state["momentum"].trace["supernet"]["pools"][0]["conv3x3"]
    assert np.all(np.asarray(trace[1:]) == 0)  # and no momentum


def test_resume_across_a_block_addition_is_exact(close_config, tmp_path, monkeypatch):
    assert_resume_equivalent(close_config, tmp_path, monkeypatch, cut_at=4)  # inside epoch 2


def test_scoring_uses_gate_assigned_blocks(close_config, tmp_path):
    loop.train(close_config, tmp_path / "run", progress=False)
    state = _restore(tmp_path / "run", close_config)
    recipe = tiny_recipe(close_config, 3)
    archs = np.array([[3] * 6, [2, 3, 1, 3, 2, 3], [3, 3, 3, 0, 0, 3]], np.int32)
    params, sharing = recipe.subnet(state.params, archs, 3)
    assert sharing.shape == (3, 3, 6, 5) and sharing.min() >= 0 and sharing.max() < 3
    again = recipe.subnet(state.params, archs, 3)[1]
    np.testing.assert_array_equal(sharing, again)  # seeded per architecture: repeatable
    assert np.all(recipe.subnet(state.params, archs, 1)[1] == 0)  # epoch 1: level 1
    report = run.evaluate_workdir(tmp_path / "run", archs=5, num_batches=1)
    assert report["num_archs"] == 5 and report["epoch"] == 3


def test_close_config_errors(close_config):
    bad = config_lib.from_json(config_lib.to_json(close_config))
    config_lib.apply_overrides(bad, ["supernet.slots_per_cell=6"])
    with pytest.raises(ConfigError, match="slots_per_cell == close.k_max"):
        tiny_recipe(bad, 3)
    bad = config_lib.from_json(config_lib.to_json(close_config))
    config_lib.apply_overrides(bad, ["close.cl_schedule=(2,3)"])
    with pytest.raises(ConfigError, match="start at epoch 1"):
        tiny_recipe(bad, 3)
    bad = config_lib.from_json(config_lib.to_json(close_config))
    config_lib.apply_overrides(bad, ["techniques=('close', 'dnas')"])
    with pytest.raises(ConfigError, match="unknown technique 'dnas'"):
        tiny_recipe(bad, 3)


def test_restart_zeroes_momentum_and_keeps_the_step_count():
    schedule = cosine_schedule(0.1, 0.0, 10, restarts=[4])
    assert float(schedule(3)) < 0.1 and float(schedule(4)) == pytest.approx(0.1)
    tx = masked_sgd(schedule)
    params = {"w": np.ones(3, np.float32)}
    state = tx.init(params)
    mask = {"w": np.ones((), bool)}
    for _ in range(3):
        _, state = tx.update({"w": np.ones(3, np.float32)}, state, params, block_mask=mask)
    fresh = restart_opt_state(state)
    assert np.all(np.asarray(fresh["momentum"].trace["w"]) == 0)
    assert int(fresh["lr"].count) == 3
    assert isinstance(fresh["momentum"], optax.TraceState)
