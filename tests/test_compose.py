"""Techniques compose: the same training as the code before the seam, user techniques, conflicts."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnas import config as config_lib
from jaxnas.errors import ConfigError
from jaxnas.optim import apply_edits, sgd_parts
from jaxnas.spaces.nb201 import arch_code, complexity_table
from jaxnas.train import defaults, loop, recipe as recipe_lib, registry, step as step_lib
from jaxnas.train.technique import Technique, after, replace
from conftest import assert_trained_like, host_leaves  # helpers beside the fixtures
from test_train import _restore, tiny_recipe

FIXTURE = "tests/fixtures/params_before_compose.npz"


def _fixture_run(techniques):
    """The run of `tests/fixtures/make_params_before_compose.py` (written at commit 9306ff6),
    through the composed recipe: 2 epochs x 3 steps on fixed random images."""
    c = defaults.mini_scale(defaults.base_config(techniques))
    c.supernet.C, c.train.epochs, c.train.batch_size = 4, 2, 8
    if techniques:
        c.supernet.slots_per_cell = c.close.k_max = 2
        c.close.cl_schedule, c.close.restart_epochs = (1, 2), (2,)
        c.close.gate.gcn_out_dims, c.close.gate.mlp_dims = (16, 16), (16,)
        c.close.gate.op_emb_dim = c.close.gate.node_emb_dim = c.close.gate.hid_dim = 8
    recipe = tiny_recipe(c, 3)
    state, rng = recipe.init(), np.random.default_rng(0)
    init = host_leaves(state.params)
    for epoch in (1, 2):
        state, step_args, _ = recipe.epoch_start(state, epoch)
        for _ in range(3):
            images = rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
            labels = rng.integers(0, 10, (8,)).astype(np.int32)
            state, _ = recipe.train_step(state, images, labels, step_args)
    assert recipe.train_step._cache_size() == 1
    return init, host_leaves(state.params)


@pytest.mark.parametrize("name,techniques", [("spos", ()), ("close", ("close",))])
def test_parameters_as_before_techniques_composed(name, techniques):
    reference = np.load(FIXTURE)
    init, got = _fixture_run(techniques)
    expected = {k.split("/", 1)[1]: reference[k] for k in reference.files
                if k.startswith(name + "/")}

    def renamed(leaves):  # SPOS params were the bare supernet before; now under "supernet"
        return {k.replace("['supernet']", "", 1) if name == "spos" else k: v
                for k, v in leaves.items()}

    assert_trained_like(renamed(got), expected, renamed(init))  # CPU-dependent rounding


def _user_config(tiny_config, **block):
    config = defaults.base_config(("user_technique",))
    with config.unlocked():
        config.update(config_lib.from_json(config_lib.to_json(tiny_config),
                                           base=defaults.base_config()))
        config.techniques = ("user_technique",)
    for k, v in block.items():
        config.user_technique[k] = v
    return config


def test_a_user_technique_trains_with_its_loss_term_and_optax_piece(tiny_config, tmp_path):
    config = _user_config(tiny_config, l2=0.5, max_flops=0.01, probe=4)
    config.eval.batch_size = 20  # the probe scores its cells on one held-out batch
    record = loop.train(config, tmp_path / "run", progress=False)
    assert record["loss_l2"] > 0  # the term is summed into the loss and logged
    assert 0 <= record["probe_best"] <= 100  # its hook scored cells through run.score
    state = _restore(tmp_path / "run", config)
    seen = state.opt_state["seen"]
    table = complexity_table(4, 1, 8, 10)
    # The piece saw the sampled cell and its FLOPs from the complexity table, inside jit.
    code = arch_code(np.asarray(seen.arch))
    assert float(seen.flops) == pytest.approx(float(table["flops"][code]))


def test_user_optax_piece_scales_updates(tiny_config):
    steps = {}
    for max_flops in (0.0, 1e-6):  # 0: no scaling; tiny: the update is scaled ~1e-6 / flops
        config = _user_config(tiny_config, l2=0.0, max_flops=max_flops)
        recipe = tiny_recipe(config, 1)
        state = recipe.init()
        state, step_args, _ = recipe.epoch_start(state, 1)
        images = np.random.default_rng(0).integers(0, 256, (20, 8, 8, 3), np.uint8)
        new, metrics = recipe.train_step(state, images, np.zeros(20, np.int32), step_args)
        steps[max_flops] = float(metrics["update_norm"])
    assert steps[1e-6] < 1e-3 * steps[0.0]


def test_unknown_config_keys_are_rejected_from_python(tiny_config, tmp_path):
    config = config_lib.from_json(config_lib.to_json(tiny_config))
    with config.unlocked():
        config.train.epochz = 3
    with pytest.raises(ConfigError, match="train.epochz"):
        loop.train(config, tmp_path / "run", progress=False)


def test_several_architectures_per_step_accumulate_gradients(tiny_config):
    """A sampler returning the same cell k times gives k times the gradient of one."""
    deltas = []
    for k in (1, 3):
        config = config_lib.from_json(config_lib.to_json(tiny_config))
        config_lib.apply_overrides(config, ["optim.momentum=0.0", "optim.weight_decay=0.0",
                                            "optim.clip=1e9", "optim.lr=1.0", "optim.min_lr=1.0"])
        recipe = tiny_recipe(config, 1)
        same_cell = lambda key, args, extra, k=k: jnp.full((k, 6), 3, jnp.int32)  # noqa: E731
        net_cfg = recipe_lib.supernet_config(config)
        train_step = step_lib.make_train_step(step_lib.supernet_forward(net_cfg), recipe.tx,
                                              same_cell, pad=0, flip=False)
        state = recipe.init()
        state, step_args, _ = recipe.epoch_start(state, 1)
        before = state.params["supernet"]["stem"]["w"].copy()
        images = np.random.default_rng(0).integers(0, 256, (20, 8, 8, 3), np.uint8)
        new, _ = train_step(state, images, np.arange(20) % 10, step_args)
        deltas.append(np.asarray(new.params["supernet"]["stem"]["w"]) - np.asarray(before))
    np.testing.assert_allclose(deltas[1], 3 * deltas[0], rtol=1e-4, atol=1e-7)


def test_conflicting_techniques_fail_clearly(tiny_config, monkeypatch):
    def fake(name, **pieces):
        module = type("M", (), {"technique": staticmethod(lambda c, r: Technique(name, **pieces)),
                                "config_block": staticmethod(dict)})
        return module

    modules = {
        "a": fake("a", forward=lambda *a: None),
        "b": fake("b", forward=lambda *a: None),
        "c": fake("c", optimizer=(replace("momentum", optax.identity()),)),
        "d": fake("d", optimizer=(replace("momentum", optax.identity()),)),
        "e": fake("e", optimizer=(after("nowhere", "x", optax.identity()),)),
        "f": fake("f", needs={"base.forward": "f runs the plain supernet"}),
        "g": fake("g", needs={"space": "g reads a narrowed space"}),
        "h": fake("h", provides=("space",)),
        "i": fake("i", conflicts={"space": "i's cells must span the whole space"}),
    }
    monkeypatch.setattr(registry, "module", lambda name: modules[name])
    for names, message in [(("a", "b"), "a and b both replace the forward"),
                           (("c", "d"), "c and d both replace the optimizer part 'momentum'"),
                           (("e",), "inserts 'x' after optimizer part 'nowhere'"),
                           (("a", "f"), "f cannot combine with a: f needs the base forward, "
                                        "which a replaces \\(f runs the plain supernet\\)"),
                           (("g",), "g needs a technique that provides 'space'"),
                           (("h", "i"), "i cannot combine with h: i's cells must span")]:
        config = config_lib.from_json(config_lib.to_json(tiny_config))
        with config.unlocked():
            config.techniques = names
            for n in names:
                config[n] = {}
        with pytest.raises(ConfigError, match=message):
            tiny_recipe(config, 1)


def test_apply_edits_orders_parts():
    parts = apply_edits(sgd_parts(0.1, clip=5.0), [("t", after("decay", "mask", optax.identity())),
                                                    ("u", replace("lr", optax.identity()))])
    assert [name for name, _ in parts] == ["clip", "decay", "mask", "momentum", "lr"]


def test_unknown_technique_is_a_clear_error(tiny_config):
    config = config_lib.from_json(config_lib.to_json(tiny_config))
    config_lib.apply_overrides(config, ["techniques=('nonesuch',)"])
    with pytest.raises(ConfigError, match="unknown technique 'nonesuch'"):
        defaults.check(config)


def test_command_line_overrides_add_a_technique_then_set_its_keys():
    """`techniques=...` applies first wherever it stands, so its block exists for the rest."""
    config = defaults.base_config()
    defaults.override(config, ["ms.edge=2", "techniques=('dynamic.ms',)", "train.epochs=3"])
    assert config.techniques == ("ms",) and config.ms.edge == 2  # the canonical name
    assert config.train.epochs == 3
    with pytest.raises(ConfigError, match="'ms.edge'"):
        defaults.override(defaults.base_config(), ["ms.edge=2"])


def test_parameter_group_gets_its_own_optimizer_under_close_masks(tiny_config):
    """`optim.groups` gives the CLOSE gate Adam; the supernet keeps the masked SGD."""
    config = defaults.base_config(("close",))
    with config.unlocked():
        config.update(config_lib.from_json(config_lib.to_json(tiny_config),
                                           base=defaults.base_config()))
        config.techniques = ("close",)
        config.optim.groups = {"gate": {"optimizer": "adam", "lr": 1e-3}}
    config_lib.apply_overrides(config, [
        "supernet.slots_per_cell=2", "close.k_max=2", "close.cl_schedule=(1,2)",
        "close.gate.gcn_out_dims=(8,)", "close.gate.mlp_dims=(8,)", "close.gate.op_emb_dim=4",
        "close.gate.node_emb_dim=4", "close.gate.hid_dim=4"])
    recipe = tiny_recipe(config, 2)
    state = recipe.init()
    images = np.random.default_rng(0).integers(0, 256, (20, 8, 8, 3), np.uint8)
    for epoch in (1, 2):
        state, step_args, _ = recipe.epoch_start(state, epoch)
        for _ in range(2):
            state, _ = recipe.train_step(state, images, np.arange(20) % 10, step_args)
    assert recipe.train_step._cache_size() == 1
    inner = state.opt_state.inner_states
    assert set(inner) == {"gate", "default"}
    adam = optax.tree_utils.tree_get(inner["gate"].inner_state, "mu")
    assert any(np.any(np.asarray(leaf) != 0) for leaf in jax.tree.leaves(adam))
    momentum = inner["default"].inner_state["momentum"].trace["supernet"]["pools"][0]["conv3x3"]
    assert np.any(np.asarray(momentum[0]) != 0)
