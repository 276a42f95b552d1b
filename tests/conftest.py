"""Shared pytest fixtures."""

import os
import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only `shared/` folder beside the repo (or `$JAXNAS_SHARED`); skip if absent."""
    default = Path(__file__).resolve().parents[2] / "shared"
    path = Path(os.environ.get("JAXNAS_SHARED", default))
    if not path.is_dir():
        pytest.skip(f"shared folder not found: {path}")
    return path


def pytest_configure(config):
    """Register the `slow` marker; make compilation cheap and share it between tests.

    The tests' tiny networks spend most of their time compiling, much of it in the CPU
    backend's optimisation: XLA compiles at optimisation level 0 here, so the slowest tests
    take about half as long (183 s -> 83 s for the GPU benchmark's smoke run); results are
    checked, never speed, and subprocesses inherit the flag. Several tests train the same tiny
    supernet more than once (resume equivalence, curricula); JAX's persistent compilation cache
    lets the later runs load the executable instead of recompiling it. The cache is a fresh
    temporary folder, so no test sees another session's; each pytest-xdist worker has its own
    (JAX writes cache files without a lock when the cache has no size limit, so two workers
    must not share one).
    """
    config.addinivalue_line("markers", "slow: long-running test; runs only when JAXNAS_SLOW=1")
    if "--xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = " ".join(filter(None, (
            os.environ.get("XLA_FLAGS"), "--xla_backend_optimization_level=0")))
    import jax

    import jaxnas  # noqa: F401  (its CPU flags, before the first computation, as for users)

    jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="jaxnas-test-xla-"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def pytest_collection_modifyitems(config, items):
    """Skip tests marked slow unless the environment sets JAXNAS_SLOW=1."""
    if os.environ.get("JAXNAS_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow test: set JAXNAS_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    """A 10-class image folder of 8x8 PNGs: 12 train and 2 test images per class."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("tiny_cifar")
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 2)):
        for c in range(10):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                pixels[..., c % 3] //= 4  # a weak class signal
                Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    return root


@pytest.fixture
def tiny_config(tiny_folder, tmp_path):
    """A locked config for a seconds-long run on `tiny_folder`."""
    from jaxnas.train.defaults import base_config

    config = base_config()
    config.data.source = str(tiny_folder)
    config.data.resolution = 8
    config.data.pad = 1
    config.data.cache_dir = str(tmp_path / "cache")
    config.supernet.C = 4
    config.supernet.N = 1
    config.train.epochs = 2
    config.train.batch_size = 20
    config.lock()
    return config


def tiny_config_text(source, cache, **train):
    """`tiny_config` as a config file's text, for commands that read a file: its data folder
    `source`, cache folder `cache`, and `c.train.<key> = value` for each of `train`."""
    lines = "".join(f"    c.train.{k} = {v!r}\n" for k, v in {"epochs": 2, **train}.items())
    return (f"from jaxnas.train.defaults import base_config\n\n\n"
            f"def get_config():\n    c = base_config()\n"
            f"    c.data.source = {str(source)!r}\n    c.data.resolution = 8\n"
            f"    c.data.pad = 1\n    c.data.cache_dir = {str(cache)!r}\n"
            f"    c.supernet.C = 4\n    c.supernet.N = 1\n    c.train.batch_size = 20\n"
            f"{lines}    return c\n")


@pytest.fixture
def tiny_with(tiny_config):
    """`(techniques, space="nb201", **changes) -> config`: a copy of `tiny_config` with
    `techniques` (their blocks completed), in the DARTS space at C=4, 3 cells when `space` is
    "darts", then dotted-key `changes` (`**{"ms.edge": 3}`) set."""
    from jaxnas.train import defaults

    def make(techniques, space="nb201", **changes):
        config = tiny_config.copy_and_resolve_references()
        if space == "darts":
            config = defaults.darts_scale(config)
        with config.unlocked():
            if space == "darts":
                config.supernet.C, config.supernet.layers = 4, 3
                config.train.batch_size = 20
            config.techniques = tuple(techniques)
            defaults.complete(config)
            for key, value in changes.items():
                *parents, last = key.split(".")
                node = config
                for p in parents:
                    node = node[p]
                node[last] = value
        return config

    return make

@pytest.fixture
def checkpointed_run(tmp_path):
    """`(config) -> (workdir, state)`: a run directory for `config` holding its initial state as
    the checkpoint of step 1 (what `jaxnas search` / `evaluate` read), without a training step
    (compiling a DARTS train step takes a minute here)."""
    import json

    from jaxnas import config as config_lib
    from jaxnas.train import checkpoint, recipe as recipe_lib

    def make(config):
        workdir = tmp_path / "run"
        workdir.mkdir()
        (workdir / "config.json").write_text(config_lib.to_json(config))
        recipe = recipe_lib.from_config(config)
        (workdir / "run.json").write_text(json.dumps(
            {"steps_per_epoch": recipe.run.steps_per_epoch, "devices": 1, "processes": 1,
             "per_device_batch": config.train.batch_size}))
        state = recipe.init()
        checkpoint.Checkpointer(workdir).save(state._replace(step=state.step + 1))
        return workdir, state

    return make


@pytest.fixture
def interrupted_standalone(monkeypatch):
    """`(config, workdir) -> rows`: `jaxnas standalone` on `config`, killed (KeyboardInterrupt)
    at its 5th progress update (stack 2's second step with stacks of 2 one-step epochs, after
    a step checkpoint: `train.checkpoint_every_minutes=0`); returns the table's rows at the
    interrupt and leaves the workdir to be resumed."""
    from jaxnas.evaluate import groundtruth
    from jaxnas.train import standalone

    def run(config, workdir):
        original = standalone.tqdm

        class Dying(original):
            def update(self, n=1):
                self.calls = getattr(self, "calls", 0) + 1
                if self.calls == 5:
                    raise KeyboardInterrupt
                return super().update(n)

        monkeypatch.setattr(standalone, "tqdm", Dying)
        with pytest.raises(KeyboardInterrupt):
            standalone.train(config, workdir, progress=False)
        monkeypatch.setattr(standalone, "tqdm", original)
        assert standalone.checkpoint.steps(workdir)[0] == 5  # saved at the interrupt
        return groundtruth.read_standalone_rows(workdir / "table.csv")

    return run


def assert_same_table(got_path, want_path):
    """Two stand-alone tables hold the same cells in order with equal losses and accuracies."""
    from jaxnas.evaluate import groundtruth

    got = groundtruth.read_standalone_rows(got_path)
    want = groundtruth.read_standalone_rows(want_path)
    assert [r["arch"] for r in got] == [r["arch"] for r in want]
    for g, w in zip(got, want):
        for column in ("train_loss", "valid_loss", "test_loss", "valid_acc", "test_acc"):
            assert g[column] == pytest.approx(w[column], rel=1e-5, abs=1e-5), column


def host_leaves(tree, prefix=""):
    """A pytree's leaves as host copies by path (`prefix` + `jax.tree_util.keystr`): copies,
    since a train step donates the state's buffers."""
    import jax
    import numpy as np

    return {prefix + jax.tree_util.keystr(p): np.array(v)
            for p, v in jax.tree_util.tree_leaves_with_path(tree)}


def assert_trained_like(got, want, init, rel=0.02):
    """Trained leaves (dicts of arrays by name) equal a stored fixture's up to the CPU's
    rounding: per float leaf, the distance to the fixture is under `rel` of how far training
    moved it from `init` (computed in this process), others exactly. A fixed 1e-6 holds on one
    CPU model and fails on another: a few steps amplify last-bit differences (Adam divides by
    tiny second moments), while a wrong rate, step or technique phase moves far more than 2%."""
    import numpy as np

    assert set(got) == set(want) == set(init)
    for key, value in want.items():
        if value.dtype.kind not in "fc":
            np.testing.assert_array_equal(got[key], value, err_msg=key)
            continue
        err = float(np.linalg.norm(np.asarray(got[key], np.float64) - value))
        moved = float(np.linalg.norm(value - np.asarray(init[key], np.float64)))
        assert err <= rel * moved + 1e-6 * np.sqrt(value.size), (
            f"{key}: {err:.3g} from the fixture, {moved:.3g} moved by training")


def train_stacks(init, step, space, archs, orders, steps=3):
    """Parameters of stand-alone stacks after `steps` steps, one per stack in `orders` (tuples
    of indices into `archs`), each architecture its own 8x8 data (batch 20) wherever it sits."""
    import jax
    import numpy as np

    from jaxnas.train import standalone, standalone_step

    rng = np.random.default_rng(0)
    data = [(rng.integers(0, 256, (steps, 20, 8, 8, 3), dtype=np.uint8),
             rng.integers(0, 10, (steps, 20)).astype(np.int32)) for _ in archs]
    out = []
    for order in orders:
        codes = [standalone.cell_code(space, archs[i]) for i in order]
        state = init(np.stack([archs[i] for i in order]), standalone_step.cell_keys(0, codes), 0)
        for s in range(steps):
            state, _ = step(state, np.stack([data[i][0][s] for i in order]),
                            np.stack([data[i][1][s] for i in order]))
        out.append(jax.tree.map(np.asarray, state.params))
    return out


def stack_slot(tree, i):
    """Network `i`'s leaves of a stack's parameters."""
    import jax

    return [x[i] for x in jax.tree.leaves(tree)]


def genotype_table(path, rows):
    """A stand-alone table CSV of DARTS genotypes: one line per `(text, valid_acc)` of `rows`,
    written as text (a malformed genotype stays malformed, for the readers' errors)."""
    import csv

    from jaxnas.evaluate.groundtruth import STANDALONE_COLUMNS

    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(STANDALONE_COLUMNS)
        for text, acc in rows:
            writer.writerow([text, "", 50.0, 1.0, acc, 1.0, acc - 1, 1.0, 0.1, 1.0, 1, 0,
                             "mini"])
