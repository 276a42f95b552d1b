"""Stand-alone training of many cells at once: a network in a stack trains as it would alone,
one compiled step serves every stack, a resumed run ends where an uninterrupted one does, and
the table it writes is a ground truth `jaxnas evaluate --gt` reads."""

import re
import json
import shutil

import jax
import numpy as np
import pytest

from jaxnas import cli, spaces
from jaxnas.errors import ArchError, DivergenceError, GroundTruthError
from jaxnas.evaluate import groundtruth
from jaxnas.evaluate.cells import ranking
from jaxnas.techniques.landmark import read_table
from jaxnas.train import standalone, standalone_config

from conftest import assert_same_table, stack_slot, train_stacks  # helpers beside fixtures

CELLS = ("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
         "|nor_conv_1x1~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
         "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_1x1~0|none~1|skip_connect~2|")
TINY = dict(C=4, N=1)


def _config(tiny_folder, tmp_path, **train):
    c = standalone_config.mini_scale(standalone_config.base_config())
    c.data.source, c.data.cache_dir = str(tiny_folder), str(tmp_path / "cache")
    c.data.resolution, c.data.pad = 8, 1
    c.network.C = TINY["C"]
    c.train.update(dict(epochs=1, batch_size=20, k=2, eval_batch_size=64), **train)
    return standalone_config.check(c)


def _cells_file(tmp_path, cells=CELLS):
    path = tmp_path / "cells.txt"
    path.write_text("# three cells\n" + "\n".join(cells) + "\n")
    return str(path)


def _programs(tiny_folder, tmp_path, **train):
    """The compiled programs of the tiny runs (3 steps per stack), shared by the tests."""
    return standalone.programs_of(_config(tiny_folder, tmp_path, **train), 3)


def _train_stacks(init, step, orders):
    """Parameters after 3 steps of each stack of `CELLS` indices in `orders`."""
    space = spaces.get("nb201")
    return train_stacks(init, step, space, [space.from_str(n) for n in CELLS], orders)


def test_a_network_in_a_stack_trains_as_it_would_alone(tiny_folder, tmp_path):
    """Slot a of stack [a, b] ends with the parameters of a trained alone (a stack of one:
    the plain, unbatched update) and of a in the other slot ([b, a])."""
    init, step, _, _ = _programs(tiny_folder, tmp_path)
    a, b = 0, 1
    together, swapped = _train_stacks(init, step, [(a, b), (b, a)])
    assert step._cache_size() == 1  # new architectures are runtime arrays
    alone_a, alone_b = _train_stacks(init, step, [(a,), (b,)])  # a stack of one
    for x, y, z in zip(stack_slot(together, 0), stack_slot(swapped, 1),
                       stack_slot(alone_a, 0)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(x, z, rtol=1e-4, atol=1e-5)
    for x, z in zip(stack_slot(together, 1), stack_slot(alone_b, 0)):
        np.testing.assert_allclose(x, z, rtol=1e-4, atol=1e-5)
    # each network its own initialisation
    assert not np.allclose(stack_slot(together, 0)[0], stack_slot(together, 1)[0])


@pytest.mark.slow
def test_vmapped_stack_trains_as_the_unrolled_one(tiny_folder, tmp_path):
    """The accelerators' loop (`vmap`: every edge runs every op, keeping its own) ends where
    the CPU's (`unroll`) does."""
    init, step, _, _ = _programs(tiny_folder, tmp_path)
    vinit, vstep, _, _ = _programs(tiny_folder, tmp_path, loop="vmap")
    order = [(0, 1)]
    for x, y in zip(jax.tree.leaves(_train_stacks(init, step, order)[0]),
                    jax.tree.leaves(_train_stacks(vinit, vstep, order)[0])):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def uninterrupted(tiny_folder, tmp_path_factory):
    """A run of the three cells two at a time (two stacks, the second padded)."""
    tmp = tmp_path_factory.mktemp("standalone")
    config = _config(tiny_folder, tmp, checkpoint_every_minutes=0.0)
    config.archs.file = _cells_file(tmp)
    step = standalone.programs_of(config, 3)[1]
    step.clear_cache()  # (a cheap reload from the session's compilation cache, if any)
    summary = standalone.train(config, tmp / "run", progress=False)
    return tmp / "run", summary, step._cache_size()


def test_table_rows_and_one_compilation(uninterrupted):
    workdir, summary, compiled = uninterrupted
    assert summary == {"cells": 3, "k": 2, "stacks": 2, "epochs": 1,
                       "table": str(workdir / "table.csv")}
    assert compiled == 1  # both stacks (the second padded), one compiled step
    rows = groundtruth.read_standalone_rows(workdir / "table.csv")
    assert [r["arch"] for r in rows] == list(CELLS)
    space = spaces.get("nb201")
    for r in rows:
        assert r["index"] == int(space.to_index(space.from_str(r["arch"])[None])[0])
        assert (r["epochs"], r["seed"], r["scale"]) == (1, 0, "C4-N1-8px")
        assert 0 <= r["valid_acc"] <= 100 and 0 <= r["test_acc"] <= 100
        assert r["train_loss"] > 0 and r["params"] > 0 and r["flops"] > 0
    assert len({r["valid_loss"] for r in rows}) == 3
    lines = (workdir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["stack"] for x in lines] == [1, 2]


def test_resume_ends_with_the_uninterrupted_table(uninterrupted, tiny_folder, tmp_path,
                                                  interrupted_standalone):
    """Killed in the second stack's epoch (after a step checkpoint), then resumed."""
    config = _config(tiny_folder, tmp_path, checkpoint_every_minutes=0.0)
    config.archs.file = _cells_file(tmp_path)
    rows = interrupted_standalone(config, tmp_path / "run")
    assert [r["arch"] for r in rows] == list(CELLS[:2])  # stack 1 finished
    with pytest.raises(Exception, match="already holds"):
        standalone.train(config, tmp_path / "run", progress=False)
    standalone.train(config, tmp_path / "run", resume=True, progress=False)
    assert_same_table(tmp_path / "run" / "table.csv", uninterrupted[0] / "table.csv")


def test_learning_curves_hold_the_held_out_accuracy(uninterrupted, tiny_folder, tmp_path):
    """`train.eval_every_epochs=1`: each epoch's metrics line holds each real network's
    held-out loss and accuracy (here the one epoch's: the table's own numbers; the run's
    results are the uninterrupted run's); the key may change on resume (it changes no
    result), and a resume from the table alone (no checkpoints) trains nothing finished."""
    config = _config(tiny_folder, tmp_path, checkpoint_every_minutes=0.0, eval_every_epochs=1)
    config.archs.file = _cells_file(tmp_path)
    standalone.train(config, tmp_path / "run", progress=False)
    assert_same_table(tmp_path / "run" / "table.csv", uninterrupted[0] / "table.csv")
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [x["archs"] for x in lines] == [list(CELLS[:2]), list(CELLS[2:])]
    rows = groundtruth.read_standalone_rows(tmp_path / "run" / "table.csv")
    assert [a for x in lines for a in x["valid_acc"]] == [r["valid_acc"] for r in rows]
    assert [a for x in lines for a in x["valid_loss"]] == [r["valid_loss"] for r in rows]
    config.train.eval_every_epochs = 2
    shutil.rmtree(tmp_path / "run" / "checkpoints")  # a copy of the run's small files only,
    moved = tmp_path / "elsewhere.txt"  # with the same cells listed in another file
    moved.write_text((tmp_path / "cells.txt").read_text())
    config.archs.file = str(moved)
    standalone.train(config, tmp_path / "run", resume=True, progress=False)  # nothing left
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2
    lines = (uninterrupted[0] / "metrics.jsonl").read_text()
    assert "valid_acc" not in lines  # off by default


def test_table_is_a_ground_truth_for_ranking(uninterrupted, tmp_path):
    table = groundtruth.read_standalone_table(uninterrupted[0] / "table.csv")
    assert table.dataset == "standalone" and table.epochs == 1
    truth = dict(zip(table.indices.tolist(), table.get("valid_acc")))

    def score(state, archs, metric):  # a scorer that agrees with the table
        del state, metric
        idx = spaces.get("nb201").to_index(archs)
        return np.array([truth[int(i)] + 1e-9 * int(i) for i in idx])  # ties broken

    report = ranking(score, None, 200, table=table)
    assert report["num_archs"] == 3 and report["archs"] == "table"
    assert report["ground_truth"].count("stand-alone table") == 1
    assert report["truth"] == pytest.approx([truth[i] for i in report["indices"]])  # compare
    assert sorted(report["indices"]) == sorted(truth)
    assert report["kendall_tau"] == pytest.approx(1.0)
    excluded = ranking(score, None, 200, table=table, exclude=[table.indices[0]])
    assert excluded["num_archs"] == 2 and excluded["excluded"] == 1
    # landmark regularisation reads the same table (`landmark.table=W/table.csv`)
    for metric in ("valid_acc", "test_acc"):
        landmarks = read_table(str(uninterrupted[0] / "table.csv"), metric)
        order = np.argsort(table.indices)
        assert landmarks.indices.tolist() == table.indices[order].tolist()
        assert np.allclose(landmarks.acc, table.get(metric)[order])


def test_malformed_table_is_one_line_error(uninterrupted, tmp_path, capsys):
    good = (uninterrupted[0] / "table.csv").read_text().splitlines()

    def changed(line, column, value):
        fields = line.split(",")
        fields[groundtruth.STANDALONE_COLUMNS.index(column)] = value
        return ",".join(fields)

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    cases = {
        "lacks column(s) seed": [good[0].replace(",seed", ",sed")] + good[1:],
        "valid_acc is 'x'": [good[0], changed(good[1], "valid_acc", "x")] + good[2:],
        "is not the index of its arch": [good[0], changed(good[1], "index", "0")],
        "one row per cell": [good[0], good[1], good[1]],
        "has no rows": [good[0]],
        "test_acc is ''": [good[0], changed(good[1], "test_acc", "")],  # only a diverged
        "every one of its 1 cells diverged": [good[0], _diverged_row(good[1])],  # row has none
    }
    for message, lines in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text("\n".join(lines) + "\n")
        with pytest.raises(GroundTruthError, match=re.escape(message)):
            groundtruth.read_standalone_table(bad)
        assert cli.main(["evaluate", "--workdir", str(run), "--gt", str(bad)]) == 2
        err = capsys.readouterr().err
        assert message.split("'")[0] in err and len(err.strip().splitlines()) == 1


def _diverged_row(line):
    """A table line with its six accuracy and loss fields empty: a diverged cell's row."""
    fields = line.split(",")
    for column in groundtruth.METRIC_COLUMNS:
        fields[groundtruth.STANDALONE_COLUMNS.index(column)] = ""
    return ",".join(fields)


def test_diverging_cells_stop_the_run_or_are_recorded(tiny_folder, tmp_path):
    """With a learning rate of 1e30 every network diverges in its first epoch of two: by
    default a one-line DivergenceError; with `train.on_divergence="record"` each stack ends
    after that epoch (nothing left to train), every row has no accuracy, a resumed run counts
    them done, and the table is refused as a ground truth (nothing to rank)."""
    config = _config(tiny_folder, tmp_path, epochs=2, checkpoint_every_minutes=0.0)
    config.archs.file = _cells_file(tmp_path)
    config.optim.lr = 1e30
    with pytest.raises(DivergenceError, match=re.escape("diverged in epoch 1 (loss not finite)")):
        standalone.train(config, tmp_path / "stop", progress=False)
    config.train.on_divergence = "record"
    standalone.train(config, tmp_path / "record", progress=False)
    table = tmp_path / "record" / "table.csv"
    rows = groundtruth.read_standalone_rows(table, diverged=True)
    assert [r["arch"] for r in rows] == list(CELLS) and all(r["diverged"] for r in rows)
    assert all(r[c] is None for r in rows for c in groundtruth.METRIC_COLUMNS)
    assert all(r["params"] > 0 for r in rows)
    lines = [json.loads(x) for x in (tmp_path / "record" / "metrics.jsonl").read_text()
             .splitlines()]
    assert [(x["stack"], x["epoch"], x["diverged"], x["loss"]) for x in lines] == [
        (1, 1, list(CELLS[:2]), None), (2, 1, list(CELLS[2:]), None)]
    standalone.train(config, tmp_path / "record", resume=True, progress=False)
    assert len((tmp_path / "record" / "metrics.jsonl").read_text().splitlines()) == 2
    with pytest.raises(GroundTruthError, match="every one of its 3 cells diverged"):
        groundtruth.read_standalone_table(table)


def test_a_recorded_divergence_leaves_the_other_networks_alone(uninterrupted, tiny_folder,
                                                               tmp_path, monkeypatch):
    """The second network of the first stack diverges after its first step (its parameters
    made NaN): its row and its learning-curve point have no accuracy, the epoch's mean loss is
    the other network's, the readers skip its row, naming it in the source; the other two cells
    end as in the run without it (networks of a stack are independent)."""
    original = standalone.programs_of

    def poisoned(*args, **kwargs):
        init, step, evaluate, schedule = original(*args, **kwargs)

        def poisoning_step(state, images, labels):
            state, metrics = step(state, images, labels)
            if int(state.step) == 1:
                state = state._replace(params=jax.tree.map(lambda p: p.at[1].set(np.nan),
                                                           state.params))
            return state, metrics
        return init, poisoning_step, evaluate, schedule

    monkeypatch.setattr(standalone, "programs_of", poisoned)
    config = _config(tiny_folder, tmp_path, checkpoint_every_minutes=0.0,
                     on_divergence="record", eval_every_epochs=1)
    config.archs.file = _cells_file(tmp_path)
    standalone.train(config, tmp_path / "run", progress=False)
    first = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert first["diverged"] == [CELLS[1]] and first["valid_acc"][1] is None
    assert np.isfinite(first["loss"]) and first["valid_acc"][0] > 0  # the other network's
    table = tmp_path / "run" / "table.csv"
    every = groundtruth.read_standalone_rows(table, diverged=True)
    assert [r["diverged"] for r in every] == [False, True, False]
    kept = groundtruth.read_standalone_rows(table)
    want = groundtruth.read_standalone_rows(uninterrupted[0] / "table.csv")
    assert [r["arch"] for r in kept] == [CELLS[0], CELLS[2]]
    for got, ref in zip(kept, [want[0], want[2]]):
        for column in ("train_loss", "valid_loss", "test_loss", "valid_acc", "test_acc"):
            assert got[column] == pytest.approx(ref[column], rel=1e-5, abs=1e-5), column
    truth = groundtruth.read_standalone_table(table)
    assert list(truth.archs) == [CELLS[0], CELLS[2]]
    assert truth.source.endswith("; 1 diverged, not ranked)")
    assert sorted(read_table(str(table), "valid_acc").indices) == sorted(truth.indices)


def test_cli_arguments_and_config_errors(tmp_path, capsys):
    assert cli.main(["standalone", "--config", "configs/standalone.py:mini", "--workdir",
                     str(tmp_path / "w"), "--archs", "nofile"]) == 2
    assert "--archs" in capsys.readouterr().err
    assert cli.main(["standalone", "--config", "configs/standalone.py:mini", "--workdir",
                     str(tmp_path / "w"), "--data", str(tmp_path), "train.memory_fraction=0"
                     ]) == 2
    assert "train.memory_fraction" in capsys.readouterr().err
    assert cli.main(["train", "--config", "configs/standalone.py:mini", "--workdir",
                     str(tmp_path / "w")]) == 2
    assert "jaxnas standalone" in capsys.readouterr().err
    assert cli.main(["standalone", "--config", "configs/nb201_spos.py:mini", "--workdir",
                     str(tmp_path / "w")]) == 2
    assert "not a stand-alone config" in capsys.readouterr().err
    space = spaces.get("nb201")
    cells = tmp_path / "c.txt"
    cells.write_text(f"{CELLS[0]}\n12\n|bad|\n")
    with pytest.raises(Exception, match="line 3"):
        standalone.read_arch_file(cells, space)
    cells.write_text(f"{CELLS[0]}\n{space.to_index(space.from_str(CELLS[0])[None])[0]}\n")
    with pytest.raises(Exception, match="lines 1 and 2"):
        standalone.read_arch_file(cells, space)
    cells.write_text("-1\n")  # an index out of range, said as one
    with pytest.raises(ArchError, match="line 1: .*0..15624, got -1"):
        standalone.read_arch_file(cells, space)


def test_cell_selection_starts_with_the_fixed_evaluation_cells():
    from jaxnas.evaluate import scoring

    config = standalone_config.base_config()
    config.archs.num = 230
    space = spaces.get("nb201")
    archs = standalone.select_archs(config, space)
    indices = space.to_index(archs)
    assert np.array_equal(indices[:200], scoring.evaluation_archs(200, seed=0))
    assert len(set(indices.tolist())) == 230
    assert np.array_equal(space.canonical(archs), archs)  # class representatives


def test_k_from_memory():
    config = standalone_config.base_config()
    config.train.k = 0
    assert standalone.choose_k(config, 300, per_network=10, free=1000) == 50
    assert standalone.choose_k(config, 30, per_network=10, free=1000) == 30
    assert standalone.choose_k(config, 300, per_network=10_000, free=1000) == 1
    config.train.max_k = 8
    assert standalone.choose_k(config, 300, per_network=10, free=1000) == 8
    assert standalone.choose_k(config, 300, loop="unroll") == 1
    config.train.k = 3
    assert standalone.choose_k(config, 2) == 2


def test_shipped_configs_are_the_recipes():
    from jaxnas.config import load_config

    paper = standalone_config.check(load_config("configs/standalone.py"), paths=False)
    mini = standalone_config.check(load_config("configs/standalone.py:mini"), paths=False)
    o, t = paper.optim, paper.train
    assert (o.lr, o.min_lr, o.momentum, o.nesterov, o.weight_decay, o.clip) == (
        0.1, 0.0, 0.9, True, 5e-4, None)
    assert (t.epochs, t.batch_size, paper.network.C, paper.network.N,
            paper.data.resolution) == (200, 256, 16, 5, 32)
    assert (mini.network.C, mini.network.N, mini.data.resolution, mini.data.pad) == (8, 1, 16, 2)


def test_every_evaluation_split_mixes_the_classes(tiny_folder, tmp_path):
    """Evaluation batches normalise with their own statistics: a class-sorted test set (an
    image folder loads class by class) would give each batch one class."""
    for images, labels in standalone.load_splits(_config(tiny_folder, tmp_path)):
        assert np.any(np.diff(labels) < 0)  # not in class order
        assert len(images) == len(labels)
