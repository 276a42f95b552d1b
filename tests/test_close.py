"""CLOSE wired into training: curriculum across epochs, masking, resume, restarts, scoring."""

import json

import jax
import numpy as np
import optax
import pytest

from jaxnas import config as config_lib
from jaxnas.techniques.close.masking import masked_sgd, restart_opt_state
from jaxnas.errors import ConfigError
from jaxnas.train import evaluation as run
from jaxnas.optim import cosine_schedule
from jaxnas.train import defaults, loop, step as step_lib
from conftest import host_leaves  # a helper beside the fixtures
from test_train import _restore, assert_resume_equivalent, tiny_recipe


@pytest.fixture
def close_config(tiny_config):
    """Three epochs of 3 steps; blocks 1, 2, 3 become active at epochs 1, 2, 3; SRT at epoch 3."""
    config = config_lib.from_json(config_lib.to_json(tiny_config),
                                  base=defaults.base_config(("close",)))
    config_lib.apply_overrides(config, [
        "techniques=('close',)", "supernet.slots_per_cell=3", "close.k_max=3",
        "close.cl_schedule=(1,2,3)",
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
    # A disjoint held-out subset (evaluation noise): other images, other accuracies.
    other = run.evaluate_workdir(tmp_path / "run", archs=5, num_batches=1, skip_batches=1)
    assert other["skip_batches"] == 1 and other["indices"] == report["indices"]
    assert other["scores"] != report["scores"]
    with pytest.raises(ConfigError, match="skip-batches 1000"):
        run.evaluate_workdir(tmp_path / "run", archs=5, num_batches=1, skip_batches=1000)


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


# --- close.gate_variant="structure" and the reference's plateau schedule ----------------------

def _structure_config(close_config, *overrides):
    config = config_lib.from_json(config_lib.to_json(close_config),
                                  base=defaults.base_config(("close",)))
    with config.unlocked():
        config.optim.groups = {"gate": {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0}}
    config_lib.apply_overrides(config, ["close.gate_variant='structure'", "close.restart_epochs=()",
                                        *overrides])
    return config


def test_structure_gate_frozen_at_one_block_then_learns_from_the_first_multiblock_step(
        close_config):
    """Level 1: the GATE (exactly zero gradient, no decay) stays bit-identical (the faithful one
    is decayed then); at the first step of level 2 every weight of the structure GATE moves, with
    a fresh Adam state (count 1)."""
    images = np.random.default_rng(0).integers(0, 256, (20, 8, 8, 3), np.uint8)
    labels = np.arange(20) % 10
    recipe = tiny_recipe(_structure_config(close_config), 2)
    state = recipe.init()
    init = host_leaves(state.params["gate"])
    state, step_args, _ = recipe.epoch_start(state, 1)
    for _ in range(2):
        state, _ = recipe.train_step(state, images, labels, step_args)
    before = host_leaves(state.params["gate"])
    for k, v in before.items():
        np.testing.assert_array_equal(v, init[k], err_msg=k)
    state, step_args, _ = recipe.epoch_start(state, 2)
    adam = state.opt_state.inner_states["gate"].inner_state[0]
    assert int(adam.count) == 0 and all(np.all(np.asarray(m) == 0) for m in jax.tree.leaves(adam))
    state, _ = recipe.train_step(state, images, labels, step_args)
    after = host_leaves(state.params["gate"])
    assert int(state.opt_state.inner_states["gate"].inner_state[0].count) == 1
    weights = [k for k in after if k.endswith("['w']") and "attn" not in k]
    assert len(weights) == 2 + 1 + 2  # x_hidden, gcn (2 layers), mlp (2 layers)
    for k in weights + ["['input_node']"]:
        assert np.all(np.isfinite(after[k])) and not np.array_equal(after[k], before[k]), k


def test_structure_variant_config_errors(close_config):
    config = _structure_config(close_config)
    with config.unlocked():
        config.optim.groups = {}
    with pytest.raises(ConfigError, match="optim.groups.gate"):
        tiny_recipe(config, 3)
    config = _structure_config(close_config)
    with config.unlocked():
        config.optim.groups = {"gate": {"optimizer": "adam", "weight_decay": 1e-4}}
    with pytest.raises(ConfigError, match="without weight decay"):
        tiny_recipe(config, 3)
    for key, value in (("gate_variant", "'smart'"), ("lr_schedule", "'step'")):
        bad = config_lib.from_json(config_lib.to_json(close_config))
        config_lib.apply_overrides(bad, [f"close.{key}={value}"])
        with pytest.raises(ConfigError, match=f"close.{key}"):
            tiny_recipe(bad, 3)


def test_defaults_are_the_reference():
    block = defaults.base_config(("close",)).close
    assert block.gate_variant == "faithful" and block.lr_schedule == "cosine"


def test_plateau_matches_torch_and_restarts_fresh():
    """Per-epoch multipliers are torch's ReduceLROnPlateau stepped on the epoch-mean losses (worked
    by hand: a drop when more than `patience` epochs fail to beat best * (1 - 1e-4), 1.4999 not
    beating 1.5); the multiplier changes only at epoch boundaries; a zeroed state (SRT) is a
    fresh scheduler."""
    from jaxnas.techniques.close.plateau import PlateauState, lr_scale, reduce_on_plateau
    spe, factor, patience = 3, 0.5, 2
    epoch_means = [2.0, 1.5, 1.5, 1.6, 1.4999, 1.7, 1.2, 1.3, 1.3, 1.3, 1.3, 1.1]
    expected = [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    tx = reduce_on_plateau(factor=factor, patience=patience, threshold=1e-4,
                           steps_per_epoch=spe)
    update = jax.jit(tx.update)
    params = {"w": np.ones(2, np.float32)}
    state, got = tx.init(params), []
    for mean in epoch_means:
        seen = set()
        for offset in (-0.3, 0.1, 0.2):  # three steps whose mean is the epoch's mean
            out, state = update({"w": np.ones(2, np.float32)}, state, params,
                                loss=np.float32(mean + offset))
            seen.add(float(out["w"][0]))
        assert len(seen) == 1  # constant within the epoch
        got.append(lr_scale(state, factor))
    assert got == pytest.approx(expected)
    assert got[-1] < 1
    fresh = restart_opt_state(state)
    assert isinstance(fresh, PlateauState) and lr_scale(fresh, factor) == 1.0
    assert float(update({"w": np.ones(2, np.float32)}, fresh, params,
                        loss=np.float32(9.0))[0]["w"][0]) == 1.0


def test_faithful_schedule_config_trains_with_the_plateau(close_config):
    config = config_lib.from_json(config_lib.to_json(close_config))
    config_lib.apply_overrides(config, ["close.lr_schedule='plateau'", "close.plateau.patience=0",
                                        "optim.nesterov=False"])
    recipe = tiny_recipe(config, 2)
    state = recipe.init()
    images = np.random.default_rng(0).integers(0, 256, (20, 8, 8, 3), np.uint8)
    logs = []
    for epoch in (1, 2, 3):
        state, step_args, log = recipe.epoch_start(state, epoch)
        logs.append(log["lr_scale"])
        for _ in range(2):
            state, _ = recipe.train_step(state, images, np.arange(20) % 10, step_args)
    assert recipe.train_step._cache_size() == 1
    assert logs[0] == 1.0 and all(s in (1.0, 0.5, 0.25) for s in logs)
