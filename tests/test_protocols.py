"""The papers' evaluation protocols: their cell sets, ground-truth columns and reports, and
`jaxnas evaluate --protocol` on a tiny trained run."""

import json

import numpy as np
import pytest

from jaxnas.errors import ConfigError, GroundTruthError
from jaxnas.evaluate import cells as cells_lib, protocols
from jaxnas.evaluate.groundtruth import load_table
from jaxnas.spaces import nb201

TEST = load_table().get("test_acc")


def test_cell_sets_of_the_papers():
    landmarks = np.array([5, 77, 1000, 15624])
    default = protocols.cells("default")
    assert default.size == 200 and np.isin(default, nb201.unique_indices()).all()
    lm = protocols.cells("landmark", seed=3, exclude=landmarks)
    assert lm.size == 200 and not np.isin(lm, landmarks).any()
    without = protocols.cells("landmark", seed=3)
    marks = without[:: 40]  # landmarks that the sample without them would have drawn
    replaced = protocols.cells("landmark", seed=3, exclude=marks)
    assert np.intersect1d(without, replaced).size == 200 - marks.size
    assert not np.array_equal(lm, protocols.cells("landmark", seed=4, exclude=landmarks))
    assert protocols.cells("abs").size == protocols.cells("fewshot").size == 15625
    assert np.array_equal(protocols.cells("close"), nb201.unique_indices())
    assert protocols.cells("close").size == 6466


def test_dynas_cells_are_the_best_of_every_bin():
    cells = protocols.cells("dynas")
    bins = np.floor(TEST / protocols.DYNAS_BIN)
    assert cells.size == np.unique(bins).size == 385
    for b in np.unique(bins)[::20]:  # brute force on a sample of the bins
        members = np.flatnonzero(bins == b)
        best = members[TEST[members] == TEST[members].max()].min()
        assert best in cells and np.isin(members, cells).sum() == 1
    assert protocols.stratified_cells([1.0, 1.05, 1.2, 3.0], 0.5).tolist() == [2, 3]


def test_ground_truth_columns_are_named():
    assert np.array_equal(protocols.truth_column("abs"), TEST)
    assert np.array_equal(protocols.truth_column("default"), load_table().get("valid_acc"))
    close = protocols.truth_column("close")
    canon = nb201.canonical_indices()
    rep = np.bincount(canon).argmax()  # the largest isomorphism class
    assert close[rep] == pytest.approx(TEST[canon == rep].mean())
    assert close[rep] != pytest.approx(TEST[rep])
    text = protocols.describe_truth("landmark")
    assert text.startswith("NB201 cifar10-valid test_acc (ori-test)")
    f = protocols.fields("close", "CIFAR10-VALID")
    assert f["protocol"] == "close" and f["dataset"] == "cifar10-valid"
    assert f["protocol_metrics"] == ["kendall_tau", "p_at_top_5"]


def test_unknown_and_unshipped_names_are_one_line():
    with pytest.raises(ConfigError, match="unknown protocol 'nasbench'; known: default"):
        protocols.get("nasbench")
    with pytest.raises(GroundTruthError, match=r"NB201 cifar10 ground truth \(trained on all "
                       r"50k.*\) is not shipped") as e:
        protocols.truth_column("abs", "cifar10")
    assert "\n" not in str(e.value)
    with pytest.raises(GroundTruthError, match="unknown NB201 dataset 'cifar-10'"):
        protocols.fields("abs", "cifar-10")


@pytest.mark.parametrize("name", ["landmark", "close", "dynas", "abs"])
def test_protocol_ranking_reports_the_protocol(name):
    truth = protocols.truth_column(name)
    rng = np.random.default_rng(0)

    def score(state, archs, metric):
        return truth[nb201.archs_to_indices(archs)] + rng.normal(0, 0.2, len(archs))

    report = cells_lib.protocol_ranking(score, None, name, exclude=[0, 1])
    assert report["protocol"] == name and report["gt"] == "test_acc"
    assert report["ground_truth"] == protocols.describe_truth(name)
    assert report["num_archs"] == protocols.cells(name, exclude=[0, 1]).size
    assert report["kendall_tau"] > 0.8 and set(report["protocol_metrics"]) <= set(report)


def _untrained_run(config, workdir, steps_per_epoch=3):
    """A run directory holding `config` and its initial state as the step-0 checkpoint: what
    evaluation reads, without compiling a train step."""
    from jaxnas import config as config_lib
    from jaxnas.train import checkpoint, recipe as recipe_lib

    workdir.mkdir()
    (workdir / "config.json").write_text(config_lib.to_json(config))
    (workdir / "run.json").write_text(json.dumps({"steps_per_epoch": steps_per_epoch}))
    recipe = recipe_lib.from_config(config, data=False, steps_per_epoch=steps_per_epoch)
    ckpt = checkpoint.Checkpointer(workdir)
    ckpt.save(recipe.init())
    ckpt.close()


def test_jaxnas_evaluate_protocol_on_a_run(tiny_config, tmp_path, capsys):
    from jaxnas import cli

    tiny_config.eval.batch_size = 20
    _untrained_run(tiny_config, tmp_path / "run")
    out = tmp_path / "dynas.json"
    assert cli.main(["evaluate", "--workdir", str(tmp_path / "run"), "--protocol", "dynas",
                     "--num-batches", "1", "--out", str(out), "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    report = json.loads(out.read_text())
    assert summary["protocol"] == report["protocol"] == "dynas"
    assert summary["ground_truth"].startswith("NB201 cifar10-valid test_acc (ori-test)")
    assert report["indices"] == protocols.cells("dynas").tolist()
    assert cli.main(["evaluate", "--workdir", str(tmp_path / "run"), "--dataset", "cifar10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cifar10 ground truth" in err and "not shipped" in err
    assert cli.main(["evaluate", "--workdir", str(tmp_path / "run"), "--protocol", "abs",
                     "--archs", "50"]) == 2
    assert "--archs chooses the default protocol" in capsys.readouterr().err
