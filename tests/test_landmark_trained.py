"""Landmarks trained stand-alone (`landmark.table="train"`): the set, the rounds, the reuse."""

import json
from pathlib import Path

import numpy as np
import pytest

from jaxnas.errors import ConfigError
from jaxnas.evaluate import groundtruth
from jaxnas.spaces import nb201 as space
from jaxnas.techniques import landmark as L
from jaxnas.techniques.landmark import trained
from jaxnas.train import defaults, loop, standalone


TRAIN = ("train.epochs=1", "train.batch_size=20", "train.k=2", "train.eval_batch_size=30")


def _config(tiny_folder, tmp_path, **landmark):
    c = defaults.base_config(techniques=("landmark",))
    c.data.source, c.data.resolution, c.data.pad = str(tiny_folder), 8, 1
    c.data.cache_dir = str(tmp_path / "cache")
    c.supernet.C, c.supernet.N = 4, 1
    c.train.epochs, c.train.batch_size = 3, 20
    c.eval.every_epochs, c.eval.batch_size = 0, 10
    c.landmark.update({**dict(table="train", warmup_epochs=1, num=2, eval_reserve=10,
                              batch_size=10, train_overrides=TRAIN), **landmark})
    return c


def test_bad_settings_are_one_line(tiny_folder, tmp_path):
    for landmark, match in ((dict(select="fixed"), "landmark.select"),
                            (dict(metric="test_acc"), "landmark.metric"),
                            (dict(train_overrides=("train.epochz=1",)), "epochz"),
                            (dict(train_overrides=("train.epochs=0",)), "train.epochs")):
        c = _config(tiny_folder, tmp_path, **landmark)
        with pytest.raises(ConfigError, match=match):
            L.technique(c, None)


def test_needs_a_folder_without_a_workdir(tiny_folder, tmp_path):
    from jaxnas.train import recipe
    c = _config(tiny_folder, tmp_path)
    with pytest.raises(ConfigError, match="landmark.train_dir"):
        recipe.from_config(c, data=False, steps_per_epoch=1)


def _fake_trainer(calls, bars=None):
    """A stand-alone trainer that writes each listed cell's NB201 x-valid accuracy as its
    table (the plumbing, not the training, is under test here); `bars` gets its `progress`."""
    truth = L.read_table()

    def train(config, workdir, *, resume=False, progress=True):
        if bars is not None:
            bars.append(progress)
        names = [line for line in open(config.archs.file).read().splitlines() if line]
        calls.append((Path(workdir).name, names, config))
        rows = []
        for name in names:
            index = space.arch_to_index(name)
            rows.append(dict(arch=name, index=index, train_acc=0.0, train_loss=0.0,
                             valid_acc=float(truth.lookup([index])[0]), valid_loss=0.0,
                             test_acc=0.0, test_loss=0.0, params=0.0, flops=0.0,
                             epochs=config.train.epochs, seed=config.seed, scale="fake"))
        groundtruth.write_standalone_table(rows, Path(workdir) / standalone.TABLE)
    return train


def _rounds_config(**landmark):
    """A 4-epoch C4 N1 8x8 landmark config training 4 landmarks, then a second round of 2."""
    c = defaults.base_config(techniques=("landmark",))
    c.supernet.C, c.supernet.N = 4, 1
    c.data.resolution, c.data.pad = 8, 1
    c.train.epochs, c.train.batch_size = 4, 8
    c.eval.batch_size = 8
    c.landmark.update(dict(table="train", warmup_epochs=1, num=4, eval_reserve=8, rounds=2,
                           top_k=2, round_pool=12, round_batches=1, **landmark))
    c.lock()
    return c


def test_rounds_train_their_additions_and_rebuilds_read_the_tables(tmp_path, monkeypatch):
    from jaxnas.train import recipe as recipe_lib
    from jaxnas.train.technique import Run

    calls = []
    monkeypatch.setattr(standalone, "train", _fake_trainer(calls))
    c = _rounds_config(train_overrides=("train.epochs=7",))
    rng = np.random.default_rng(0)
    data = [(rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
             rng.integers(0, 10, n).astype(np.int32)) for n in (16, 40)]

    def build():
        run = Run(config=c, net_cfg=recipe_lib.supernet_config(c), steps_per_epoch=2,
                  total_steps=8, train_data=data[0], valid_data=data[1], workdir=tmp_path)
        return recipe_lib.build(c, run)

    recipe = build()
    (folder, names, s), = calls
    assert folder == "initial" and len(names) == 4
    assert (s.network.C, s.network.N, s.data.resolution, s.data.pad, s.train.epochs) == \
        (4, 1, 8, 1, 7)                                 # the run's scale, the override
    state = recipe.init()
    marks = L.indices_of(state.extra["landmark"])
    assert sorted(marks.tolist()) == sorted(space.arch_to_index(n) for n in names)
    state, _, log = recipe.epoch_start(state, 3)        # round 2: its top-2 trained, then added
    folder, added, _ = calls[-1]
    assert folder == "round2" and sorted(log["landmark_added"]) == \
        sorted(space.arch_to_index(n) for n in added)
    assert log["landmarks"] == 6
    build()                                             # a rebuilt run reads what is trained
    assert len(calls) == 2
    again, _, log = build().epoch_start(state, 3)       # and resumes past the round
    assert len(calls) == 2 and "landmark_added" not in log


def test_landmark_training_follows_the_runs_progress_setting(tmp_path, monkeypatch):
    """`jaxnas train --no-progress` (`loop.train(progress=False)`) reaches the landmarks'
    stand-alone trainer, the initial set's and each round's."""
    from jaxnas.train import recipe as recipe_lib

    calls, bars = [], []
    monkeypatch.setattr(standalone, "train", _fake_trainer(calls, bars))
    c = _rounds_config()
    rng = np.random.default_rng(0)
    data = [(rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8),
             rng.integers(0, 10, n).astype(np.int32)) for n in (16, 40)]
    run = recipe_lib.make_run(c, 2, *data, workdir=tmp_path, progress=False)
    recipe = recipe_lib.build(c, run)
    recipe.epoch_start(recipe.init(), 3)                 # round 2 trains its additions
    assert [folder for folder, _, _ in calls] == ["initial", "round2"] and bars == [False] * 2

    class Built(Exception):
        pass

    def from_config(config, **kwargs):
        bars.append(kwargs.get("progress", True))
        raise Built
    monkeypatch.setattr(recipe_lib, "from_config", from_config)
    with pytest.raises(Built):
        loop.train(c, tmp_path / "run", progress=False)
    assert bars[-1] is False


@pytest.mark.slow
def test_trained_landmarks_and_rounds(tiny_folder, tmp_path, monkeypatch):
    """The initial set is the trained cells with their held-out accuracy; a round trains its
    top-k before they join; a rebuilt run reads the tables without training again."""
    c = _config(tiny_folder, tmp_path, rounds=2, top_k=2, round_pool=10, round_batches=1)
    loop.train(c, tmp_path / "run", progress=False)
    root = tmp_path / "run" / "landmarks"
    first = groundtruth.read_standalone_rows(root / "initial" / standalone.TABLE)
    cells = trained.initial_cells(c, space.SPACE, c.seed)
    assert [r["arch"] for r in first] == [space.arch_to_str(a) for a in cells]
    assert all(r["epochs"] == 1 for r in first)
    added = groundtruth.read_standalone_rows(root / "round2" / standalone.TABLE)
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [x["landmarks"] for x in lines] == [2, 2, 4]
    assert sorted(lines[2]["landmark_added"]) == sorted(int(r["index"]) for r in added)

    # The checkpointed set holds every trained cell with its trained accuracy.
    from jaxnas.train.open_run import open_run
    monkeypatch.setattr(standalone, "train", lambda *a, **k: pytest.fail("trained again"))
    state = open_run(tmp_path / "run").state.extra["landmark"]
    rows = {int(r["index"]): r["valid_acc"] for r in first + added}
    marks = L.indices_of(state)
    assert sorted(marks.tolist()) == sorted(rows)
    acc = np.asarray(state.acc)[:len(marks)]
    np.testing.assert_allclose(acc, [rows[int(i)] for i in marks], rtol=1e-6)


@pytest.mark.parametrize("select", ["random", "diverse"])
def test_same_cells_as_the_looked_up_selection(tiny_folder, tmp_path, select):
    """A trained and a looked-up arm of one seed regularise the same cells."""
    c = _config(tiny_folder, tmp_path, select=select, num=30)
    cells = trained.initial_cells(c, space.SPACE, seed=3)
    looked_up = L.select(L.read_table(), 30, select, seed=3, distance=c.landmark.distance,
                         roots=c.landmark.roots)
    np.testing.assert_array_equal(space.SPACE.to_index(cells), looked_up)


def _darts_config(tiny_with, **landmark):
    """The tiny DARTS run (C4, 3 cells, 8x8) training its 2 landmarks stand-alone."""
    return tiny_with(("landmark",), space="darts", **{
        "train.epochs": 2, "eval.batch_size": 10,
        **{f"landmark.{k}": v for k, v in dict(table="train", warmup_epochs=1, num=2,
                                                  eval_reserve=10, batch_size=10,
                                                  train_overrides=TRAIN, **landmark).items()}})


def test_darts_landmarks_train_in_the_search_network(tiny_with):
    """In DARTS the landmarks train as genotypes of DARTS's search network at the run's size
    (the networks its supernet shares weights between), with its images, seed and epochs."""
    from jaxnas.train import rules, standalone_config

    c = _darts_config(tiny_with)
    rules.check(c, paths=False)  # 'train' is a DARTS landmark table now
    s = trained.standalone_config_for(c, "cells.txt")
    assert standalone_config.config_type(s) == "darts_search"
    assert (s.network.C, s.network.layers, s.data.resolution, s.data.pad) == (4, 3, 8, 1)
    assert (s.seed, s.train.epochs, s.train.batch_size, s.archs.file) == (0, 1, 20, "cells.txt")
    assert standalone_config.scale(s) == "C4-L3-8px-search"
    from jaxnas.spaces import DARTS

    cells = trained.initial_cells(c, DARTS, seed=0)
    assert cells.shape == (2, 28) and len({DARTS.to_str(a) for a in cells}) == 2


@pytest.mark.slow
def test_darts_trained_landmarks_regularise_a_run(tiny_with, tmp_path):
    """A tiny DARTS landmark run trains its 2 landmarks first (a stand-alone table keyed by
    Genotype text), regularises with their held-out accuracy, and rankings leave them out."""
    from jaxnas.spaces import DARTS
    from jaxnas.train.open_run import open_run

    c = _darts_config(tiny_with)
    loop.train(c, tmp_path / "run", progress=False)
    rows = groundtruth.read_standalone_rows(tmp_path / "run" / "landmarks" / "initial" /
                                            standalone.TABLE)
    cells = trained.initial_cells(c, DARTS, c.seed)
    assert [r["arch"] for r in rows] == [DARTS.to_str(a) for a in cells]
    assert all(r["scale"] == "C4-L3-8px-search" and r["epochs"] == 1 for r in rows)
    opened = open_run(tmp_path / "run", progress=False)
    state = opened.state.extra["landmark"]
    keys = L.indices_of(state, DARTS)
    acc = {r["arch"]: r["valid_acc"] for r in rows}
    np.testing.assert_allclose(np.asarray(state.acc)[:2], [acc[k] for k in keys], rtol=1e-6)
    assert sorted(opened.recipe.exclude(opened.state).tolist()) == sorted(acc)
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [x["landmarks"] for x in lines] == [2, 2]
