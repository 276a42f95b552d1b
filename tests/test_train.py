"""Training: one compiled step, resume equivalence, workdir and checkpoint errors."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import config as config_lib
from jaxnas.errors import CheckpointError
from jaxnas.spaces import NB201
from jaxnas.supernet import darts, nb201, pools
from jaxnas.data import load_data
from jaxnas.evaluate.groundtruth import load_mini_table
from jaxnas.optim import cosine_schedule, sgd_torch
from jaxnas.train import checkpoint, loop, recipe as recipe_lib, samplers, state as state_lib
from jaxnas.train import open_run, step as step_lib
from jaxnas.train.technique import Run


def tiny_recipe(config, steps_per_epoch=1):
    """The recipe of `config` without loading its data."""
    net_cfg = recipe_lib.supernet_config(config)
    run = Run(config, net_cfg, steps_per_epoch, steps_per_epoch * config.train.epochs)
    return recipe_lib.build(config, run)


def _restore(workdir, config):
    """The train state in the latest checkpoint of `workdir`."""
    ckpt = loop.checkpoint.Checkpointer(workdir)
    state = ckpt.restore(tiny_recipe(config).init())
    ckpt.close()
    return state


@pytest.mark.parametrize("cfg", [nb201.SupernetConfig(C=4, N=1),
                                 nb201.SupernetConfig(C=8, N=2, slots_per_cell=6),
                                 darts.SupernetConfig(C=4, layers=3)])
def test_supernet_init_is_the_eager_init_in_one_program(cfg):
    """`recipe.supernet_init` draws the parameters in one jitted program (the eager init
    compiled ~50 small programs whose code stayed in memory): the same bits as the eager
    init for every seed, compiled once per config."""
    module = darts if isinstance(cfg, darts.SupernetConfig) else nb201
    jitted = recipe_lib._jitted_init(module)
    for seed in (0, 3):
        key = jax.random.key(seed)
        eager, got = module.init(key, cfg), recipe_lib.supernet_init(key, cfg)
        assert jax.tree.structure(eager) == jax.tree.structure(got)
        for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(got)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert jitted._cache_size() >= 1
    before = jitted._cache_size()
    recipe_lib.supernet_init(jax.random.key(5), cfg)
    assert jitted._cache_size() == before


def test_train_step_compiles_once(tiny_config):
    (x, y), _ = load_data(tiny_config.data)
    net_cfg = recipe_lib.supernet_config(tiny_config)
    tx = sgd_torch(cosine_schedule(0.1, 0.0, 10), 0.9, True, 5e-4, 5.0)
    state = state_lib.create({"supernet": nb201.init(jax.random.key(0), net_cfg)}, tx, 0)
    step = step_lib.make_train_step(step_lib.supernet_forward(net_cfg), tx, samplers.uniform(NB201))
    archs = set()
    mask = jnp.ones((6, 5), bool)
    for i, sharing in enumerate([pools.vanilla_sharing(1), pools.cell_sharing(1)] * 3):
        step_args = {"sharing": jnp.asarray(sharing), "mask": mask.at[0, i % 5].set(False)}
        state, metrics = step(state, x[:20], y[:20], step_args)
        archs.add(int(metrics["loss"] * 1e6))
    assert step._cache_size() == 1  # sharing maps and sampler masks are runtime arrays
    assert int(state.step) == 6 and len(archs) > 1


def test_restored_state_does_not_recompile_the_train_step(tiny_config, tmp_path):
    """A restored state is placed as a fresh one: the step compiled before the checkpoint serves
    it, also once the space changes as ABS changes it (`jnp.asarray(mask)`)."""
    r = recipe_lib.from_config(tiny_config)
    images, labels = (x[:20] for x in r.run.train_data)
    state, args, _ = r.epoch_start(r.init(), 1)
    state = r.train_step(state, images, labels, args)[0]
    ckpt = checkpoint.Checkpointer(tmp_path)
    ckpt.save(state)
    ckpt.close()
    template = r.init()
    restored = open_run.restore_latest(tmp_path, r)
    assert ([getattr(x, "committed", None) for x in jax.tree.leaves(restored)]
            == [getattr(x, "committed", None) for x in jax.tree.leaves(template)])
    state, args, _ = r.epoch_start(restored, 2)
    state = r.train_step(state, images, labels, args)[0]
    mask = np.ones((6, 5), bool)
    mask[0, 1] = False
    state, args, _ = r.epoch_start(state._replace(space=jnp.asarray(mask)), 2)
    state = r.train_step(state, images, labels, args)[0]
    assert r.train_step._cache_size() == 1 and int(state.step) == 3


def assert_resume_equivalent(config, tmp_path, monkeypatch, cut_at):
    """Train `config` straight through, and again interrupted at step `cut_at` then resumed:
    the two final train states must be bit-identical."""
    full = tmp_path / "full"
    loop.train(config, full, progress=False)

    make = step_lib.make_train_step

    def interrupting(*args, **kwargs):  # a step function that is interrupted at step 4
        fn = make(*args, **kwargs)

        def step(state, *rest):
            if int(state.step) == cut_at:
                raise KeyboardInterrupt
            return fn(state, *rest)
        return step

    cut = tmp_path / "cut"
    monkeypatch.setattr(step_lib, "make_train_step", interrupting)
    with pytest.raises(KeyboardInterrupt):
        loop.train(config, cut, progress=False)
    monkeypatch.setattr(step_lib, "make_train_step", make)
    assert int(_restore(cut, config).step) == cut_at  # the interrupt wrote a checkpoint
    loop.train(config, cut, resume=True, progress=False)
    full_leaves = jax.tree.leaves(_restore(full, config))
    for a, b in zip(full_leaves, jax.tree.leaves(_restore(cut, config))):
        np.testing.assert_array_equal(a, b)
    lines = (cut / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == config.train.epochs and f'"epoch": {config.train.epochs}' in lines[-1]
    return full, cut


def test_interrupted_run_resumes_to_the_same_parameters(tiny_config, tmp_path, monkeypatch):
    assert_resume_equivalent(tiny_config, tmp_path, monkeypatch, cut_at=4)


def test_workdir_errors(tiny_config, tmp_path, capsys):
    workdir = tmp_path / "run"
    loop.train(tiny_config, workdir, resume=True, progress=False)  # nothing yet: starts the run
    assert "no checkpoint in" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="already holds a run"):
        loop.train(tiny_config, workdir, progress=False)
    other = config_lib.from_json(config_lib.to_json(tiny_config))
    config_lib.apply_overrides(other, ["supernet.C=8"])
    with pytest.raises(CheckpointError, match="supernet.C"):
        loop.train(other, workdir, resume=True, progress=False)


def test_setting_added_since_the_checkpoint_is_compatible_at_its_default(tiny_config):
    # A checkpoint written before `train.path_loop` existed resumes under its default...
    stored = json.loads(config_lib.to_json(tiny_config))
    del stored["train"]["path_loop"]
    checkpoint.check_compatible(json.dumps(stored), tiny_config, "w")
    # ...but not under another value, nor when a stored setting differs or is gone.
    other = config_lib.from_json(config_lib.to_json(tiny_config))
    config_lib.apply_overrides(other, ["train.path_loop=scan"])
    with pytest.raises(CheckpointError, match="train.path_loop = None there, 'scan' now"):
        checkpoint.check_compatible(json.dumps(stored), other, "w")
    stored["train"]["path_loop"], stored["sampler"] = "auto", "fairnas"
    with pytest.raises(CheckpointError, match="sampler = 'fairnas' there, 'uniform' now"):
        checkpoint.check_compatible(json.dumps(stored), tiny_config, "w")


def test_corrupt_checkpoint_is_a_clear_error(tiny_config, tmp_path):
    workdir = tmp_path / "run"
    loop.train(tiny_config, workdir, progress=False)
    for f in (workdir / "checkpoints").rglob("*"):
        if f.is_file() and f.stat().st_size > 0:
            f.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot restore checkpoint"):
        _restore(workdir, tiny_config)


def test_in_training_ranking_reads_eval_table(tiny_config, tmp_path):
    """With `eval.table` the per-epoch ranking scores the table's cells against its column,
    not `eval.num_archs` cells against NB201's."""
    config = tiny_config.copy_and_resolve_references()
    config.train.epochs = 1
    config.eval.update(every_epochs=1, num_archs=30, batch_size=10, num_batches=1)
    for table, n in (("", 30), ("nb201-mini", load_mini_table().indices.size)):
        config.eval.table = table
        loop.train(config, tmp_path / f"run{n}", progress=False)
        line = json.loads((tmp_path / f"run{n}" / "metrics.jsonl").read_text())
        assert line["eval"]["n"] == n and ("nb201-mini" in line["eval"]["ground_truth"]) == (
            table != "")


def test_samplers_respect_masks():
    mask = np.zeros((6, 5), bool)
    mask[:, 3] = True
    mask[0, 1] = True
    keys = jax.random.split(jax.random.key(0), 200)
    for make in (samplers.uniform, samplers.unique):
        sample = jax.jit(jax.vmap(make(NB201), in_axes=(0, None)))
        archs = np.asarray(sample(keys, {"mask": jnp.asarray(mask)}))[:, 0]
        assert mask[np.arange(6), archs].all()
        assert set(archs[:, 0]) == {1, 3}
        full = np.asarray(sample(keys, {"mask": jnp.ones((6, 5), bool)}))[:, 0]
        assert len(set(full[:, 0])) == 5
        assert sample._cache_size() == 1  # the mask is a runtime argument
