"""Final training of a DARTS genotype (`jaxnas final`): the evaluation network has DARTS's
structure (its parameter count is the space's count for the genotype), drop path and cutout
behave as DARTS's, one compiled step serves every epoch while the drop-path probability rises,
a resumed run ends where an uninterrupted one does, and bad input is one line."""

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnas import cli
from jaxnas.data import cutout
from jaxnas.errors import ArchError, ConfigError, DivergenceError
from jaxnas.spaces import darts as space
from jaxnas.supernet import darts_eval
from jaxnas.train import final, standalone, standalone_config, standalone_step as sstep

DARTS_V2 = space.GENOTYPES["DARTS_V2"]
TORCH = pathlib.Path(__file__).parent / "fixtures" / "darts_eval_torch.npz"


def _count(arch, C, layers, auxiliary):
    cfg = darts_eval.EvalConfig(C=C, layers=layers, auxiliary=auxiliary)
    params = jax.eval_shape(lambda k: darts_eval.init(k, cfg, darts_eval.Plan.of(arch)),
                            jax.random.key(0))
    return darts_eval.num_params(params)


def test_parameter_count_is_darts_count():
    """Every conv, BN and head of the genotype's network, none of another op's: the count of
    `spaces.darts.num_params` (DARTS's NetworkCIFAR) for DARTS-V2 and random genotypes."""
    archs = [space.str_to_arch(DARTS_V2), *space.sample(np.random.default_rng(0), 4)]
    for i, arch in enumerate(archs):
        for C, layers, aux in ((4, 5, True), (6, 8, False), (2, 3, i % 2 == 0)):
            assert _count(arch, C, layers, aux) == space.num_params(
                arch, C, layers, auxiliary=aux), (i, C, layers, aux)
    assert _count(archs[0], 36, 20, False) == 3_349_342  # DARTS-V2's 3.3M, as DARTS logs


def test_forward_equals_pytorch_darts():
    """Logits and auxiliary logits (train-mode BN, no drop path) of DARTS-V2 and a genotype with
    every op equal a float64 PyTorch NetworkCIFAR's for the same weights (fixture written by
    tests/fixtures/make_darts_eval_torch.py; the weights are re-made from their keys)."""
    data = np.load(TORCH)
    C, layers, num_classes = (int(v) for v in data["cfg"])
    cfg = darts_eval.EvalConfig(C=C, layers=layers, num_classes=num_classes, auxiliary=True)
    for g, text in enumerate(data["genotypes"]):
        plan = darts_eval.Plan.of(str(text))
        params = darts_eval.init(jax.random.key(g), cfg, plan)
        logits, aux = jax.jit(lambda p, x, plan=plan: darts_eval.apply(
            p, x, cfg=cfg, plan=plan, train=True, drop_prob=0.0, key=jax.random.key(0)))(
                params, jnp.asarray(data["x"]))
        np.testing.assert_allclose(logits, data[f"logits{g}"], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(aux, data[f"aux{g}"], rtol=1e-4, atol=1e-4)


def _tiny(auxiliary=False, res=8):
    cfg = darts_eval.EvalConfig(C=4, layers=3, auxiliary=auxiliary)
    plan = darts_eval.Plan.of(DARTS_V2)
    params = darts_eval.init(jax.random.key(0), cfg, plan)
    x = jax.random.normal(jax.random.key(1), (6, res, res, 3))
    return cfg, plan, params, x


def test_drop_path_zero_is_no_drop_path_and_drops_whole_examples():
    cfg, plan, params, x = _tiny()
    plain = darts_eval.jitted_apply(cfg, plan)(params, x)
    train = jax.jit(lambda p, d: darts_eval.apply(p, x, cfg=cfg, plan=plan, train=True,
                                                  drop_prob=d, key=jax.random.key(2))[0])
    np.testing.assert_allclose(train(params, 0.0), plain, rtol=1e-5, atol=1e-5)
    drop = train(params, 0.5)
    assert np.abs(np.asarray(drop - plain)).max() > 1e-3
    h = jnp.ones((4000, 2, 2, 3))
    out = np.asarray(darts_eval._drop_path(h, jax.random.key(3), 0.25))
    per_example = out.reshape(4000, -1)
    assert set(np.unique(per_example)) <= {0.0, np.float32(1 / 0.75)}
    assert (per_example == per_example[:, :1]).all()  # an example is dropped whole
    assert abs((per_example[:, 0] == 0).mean() - 0.25) < 0.03


def test_drop_path_rises_with_the_epoch_and_aux_loss_adds():
    """DARTS's schedule, prob * epoch / epochs, inside the loss: epoch 0 drops nothing."""
    cfg, plan, params, _ = _tiny(auxiliary=True, res=32)
    x = jax.random.normal(jax.random.key(1), (6, 32, 32, 3))
    labels = jnp.arange(6) % 10
    key = jax.random.key(4)

    @jax.jit
    def traced(drop, local):  # one compilation: drop and the step are traced
        net = sstep.darts_network(cfg, DARTS_V2, auxiliary_weight=0.4, drop_path_prob=drop,
                                  steps_per_epoch=2, epochs=4)
        heads = darts_eval.apply(params, x, cfg=cfg, plan=plan, train=True, drop_prob=0.0,
                                 key=key)
        return net.loss(params, None, x, labels, key, local)[0], heads

    def loss(drop, local):
        return float(traced(jnp.float32(drop), jnp.int32(local))[0])

    assert loss(0.6, 1) == pytest.approx(loss(0.0, 1), rel=1e-6)   # epoch 0
    assert abs(loss(0.6, 2) - loss(0.0, 2)) > 1e-4                   # epoch 1: 0.15
    logits, aux = traced(jnp.float32(0), jnp.int32(0))[1]
    def ce(z):
        return float(sstep._cross_entropy(z, labels).mean())
    assert loss(0.0, 0) == pytest.approx(ce(logits) + 0.4 * ce(aux), rel=1e-5)
    evaluation = jax.eval_shape(lambda p: darts_eval.apply(p, x, cfg=cfg, plan=plan), params)
    assert evaluation[1] is None  # no auxiliary head in evaluation


def test_cutout_is_darts_square():
    x = jnp.ones((64, 32, 32, 3))
    out = np.asarray(cutout(jax.random.key(0), x, 16))
    holes = (out[..., 0] == 0)
    assert (holes == (out == 0).all(-1)).all()  # every channel
    sizes = holes.sum((1, 2))
    assert sizes.max() == 256 and sizes.min() >= 64  # 16x16, clipped at most to 8x8
    rows, cols = holes.any(2), holes.any(1)
    assert (holes == rows[:, :, None] & cols[:, None, :]).all()  # a rectangle


def _config(tiny_folder, tmp_path, **overrides):
    c = standalone_config.darts_config()
    c.data.source, c.data.cache_dir = str(tiny_folder), str(tmp_path / "cache")
    c.data.resolution, c.data.pad, c.data.cutout = 8, 1, 4
    c.network.update(C=4, layers=3, auxiliary=False, drop_path_prob=0.3)
    c.train.update(dict(epochs=2, batch_size=20, eval_batch_size=64,
                        checkpoint_every_minutes=0.0), **overrides)
    return standalone_config.check(c)


@pytest.fixture(scope="module")
def uninterrupted(tiny_folder, tmp_path_factory):
    """DARTS-V2 trained 2 epochs of 6 steps (120 tiny images, the whole training split)."""
    tmp = tmp_path_factory.mktemp("final")
    config = _config(tiny_folder, tmp)
    step = standalone.programs_of(config, 6, space.str_to_arch(DARTS_V2))[1]
    step.clear_cache()
    row = final.final(config, tmp / "run", DARTS_V2, progress=False)
    return tmp / "run", row, step._cache_size()


def test_final_row_and_one_compilation_across_epochs(uninterrupted):
    workdir, row, compiled = uninterrupted
    assert compiled == 1  # drop path 0, then 0.15: a runtime value
    assert row["arch"] == space.arch_to_str(space.str_to_arch(DARTS_V2))
    assert row["valid_acc"] is None and 0 <= row["test_acc"] <= 100
    assert (row["epochs"], row["scale"]) == (2, "C4-L3-8px")
    assert row["params"] * 1e6 == pytest.approx(space.num_params(DARTS_V2, 4, 3), abs=1)
    epochs = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text()
              .splitlines()]
    assert [e["epoch"] for e in epochs] == [1, 2]


def test_resume_ends_with_the_uninterrupted_row(uninterrupted, tiny_folder, tmp_path,
                                                monkeypatch):
    config = _config(tiny_folder, tmp_path)
    original = standalone.tqdm

    class Dying(original):
        def update(self, n=1):
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 8:  # epoch 2, after its second step
                raise KeyboardInterrupt
            return super().update(n)

    monkeypatch.setattr(standalone, "tqdm", Dying)
    with pytest.raises(KeyboardInterrupt):
        final.final(config, tmp_path / "run", DARTS_V2, progress=False)
    monkeypatch.setattr(standalone, "tqdm", original)
    assert standalone.checkpoint.steps(tmp_path / "run")[0] == 8
    got = final.final(config, tmp_path / "run", DARTS_V2, resume=True, progress=False)
    want = uninterrupted[1]
    for column in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert got[column] == pytest.approx(want[column], rel=1e-5, abs=1e-5), column


def test_interrupt_inside_a_step_resumes_from_the_newest_checkpoint(
        uninterrupted, tiny_folder, tmp_path, monkeypatch):
    """An interrupt (Ctrl-C, SIGTERM) inside the step call, after the step took (donated) the
    state, cannot save that state: the run stops cleanly and resumes from the checkpoint
    before it, ending as the uninterrupted run."""
    config = _config(tiny_folder, tmp_path)
    real = standalone.programs_of
    calls = [0]

    def programs_of(*args, **kwargs):
        init, step, evaluate, schedule = real(*args, **kwargs)

        def dying(state, images, labels):
            out = step(state, images, labels)
            calls[0] += 1
            if calls[0] == 8:
                raise KeyboardInterrupt
            return out
        return init, dying, evaluate, schedule

    monkeypatch.setattr(standalone, "programs_of", programs_of)
    with pytest.raises(KeyboardInterrupt):
        final.final(config, tmp_path / "run", DARTS_V2, progress=False)
    monkeypatch.undo()
    assert standalone.checkpoint.steps(tmp_path / "run")[0] == 6  # epoch 1's end
    got = final.final(config, tmp_path / "run", DARTS_V2, resume=True, progress=False)
    for column in ("train_loss", "test_loss", "test_acc"):
        assert got[column] == pytest.approx(uninterrupted[1][column], rel=1e-5, abs=1e-5)


def test_a_recorded_divergence_is_an_error_naming_the_table(tiny_folder, tmp_path):
    """`train.on_divergence="record"` with one genotype: the run stops after the diverged
    epoch, the table holds its row without accuracy, and `final` raises rather than return
    an accuracy it does not have."""
    config = _config(tiny_folder, tmp_path, on_divergence="record")
    config.optim.lr, config.optim.clip = 1e30, None
    with pytest.raises(DivergenceError, match=r"diverged \(recorded in .*table\.csv\)"):
        final.final(config, tmp_path / "run", DARTS_V2, progress=False)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["loss"] is None  # 1 of 2 epochs


def test_bad_genotype_and_config_are_one_line(tiny_folder, tmp_path, capsys):
    w = str(tmp_path / "w")
    base = ["final", "--config", "configs/darts_final.py:mini", "--workdir", w,
            "--data", str(tiny_folder)]
    cases = [
        (["--arch", "Genotype(normal=[('sep_conv_3x3', 0)])"], "Genotype"),
        (["--arch", DARTS_V2.replace("sep_conv_3x3", "conv_9x9", 1)], "conv_9x9"),
        (["--arch", "DARTS_V2", "network.C=7"], "network.C"),
        (["--arch", "DARTS_V2", "data.resolution=16"], "auxiliary"),
        (["--arch", "DARTS_V2", "train.k=2"], "train.k"),
        (["--arch", "DARTS_V2", "network.drop_path_prob=1.0"], "drop_path_prob"),
        (["--arch", "DARTS_V2", "network.N=5"], "network.N"),
        (["--arch-file", str(tmp_path / "none.txt")], "not found"),
        (["--arch", __file__], "--arch-file"),  # a file given as --arch
        ([], "--arch"),
    ]
    for extra, needle in cases:
        assert cli.main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1, (extra, err)
    assert cli.main(["final", "--config", "configs/standalone.py:mini", "--workdir", w,
                     "--arch", "DARTS_V2"]) == 2
    assert "space='darts'" in capsys.readouterr().err
    # a search result's genotype is read from its found.arch
    result = tmp_path / "evolution.json"
    result.write_text(json.dumps({"found": {"arch": DARTS_V2}}))
    assert np.array_equal(final.read_genotype(result), space.str_to_arch(DARTS_V2))
    with pytest.raises(ArchError, match="one Genotype"):
        (tmp_path / "two.txt").write_text(DARTS_V2 + "\n" + DARTS_V2 + "\n")
        final.read_genotype(tmp_path / "two.txt")
    with pytest.raises(ConfigError):
        darts_eval.EvalConfig(C=5, layers=5)
    config = standalone_config.darts_config()
    config.train.eval_every_epochs = 10  # nothing held out with data.split="full"
    with pytest.raises(ConfigError, match="eval_every_epochs.*nothing is held out"):
        standalone_config.check(config, paths=False)


def test_shipped_configs_are_darts_recipe():
    from jaxnas.config import load_config

    paper = standalone_config.check(load_config("configs/darts_final.py"), paths=False)
    mini = standalone_config.check(load_config("configs/darts_final.py:mini"), paths=False)
    n, o, t, d = paper.network, paper.optim, paper.train, paper.data
    assert (n.C, n.layers, n.auxiliary, n.auxiliary_weight, n.drop_path_prob) == (
        36, 20, True, 0.4, 0.2)
    assert (o.lr, o.min_lr, o.momentum, o.nesterov, o.weight_decay, o.clip) == (
        0.025, 0.0, 0.9, False, 3e-4, 5.0)
    assert (t.epochs, t.batch_size, d.cutout, d.split, d.resolution, d.train_subset) == (
        600, 96, 16, "full", 32, 0)
    assert (mini.network.C, mini.network.layers, mini.data.resolution) == (8, 5, 32)
