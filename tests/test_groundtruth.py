"""Tests of the packaged NB201 table and the NATS-Bench archive reader."""

import bz2
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxnas.errors import GroundTruthError
from jaxnas.evaluate import groundtruth
from jaxnas.evaluate.groundtruth import load_table, read_nats_archive, save_table

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = "data/nb201/nats-tss-v1_0-3ffb9-simple"
INDEX0_ARCH = (
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
    "+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
)


@pytest.fixture(scope="module")
def table():
    return load_table()


@pytest.fixture
def archive(shared_dir) -> Path:
    path = shared_dir / ARCHIVE
    if not path.is_dir():
        pytest.skip(f"NATS-Bench fixture not found: {path}")
    return path


def test_packaged_table(table):
    assert (table.dataset, table.epochs) == ("cifar10-valid", 200)
    assert set(table.metrics) == {
        "train_acc", "valid_acc", "test_acc", "train_loss", "valid_loss", "test_loss",
    }
    assert table.splits == {"train": "train", "valid": "x-valid", "test": "ori-test"}
    np.testing.assert_array_equal(table.indices, np.arange(15625))
    for values in table.metrics.values():
        assert values.shape == (15625,) and values.dtype == np.float64
        assert not values.flags.writeable
    valid = table.get("valid_acc")
    assert valid.max() == pytest.approx(91.6067, abs=1e-3)
    assert int(np.argmax(valid)) == 6111
    assert valid[0] == pytest.approx(81.98266666, abs=1e-8)
    assert table.get("test_acc")[0] == pytest.approx(81.52, abs=1e-8)
    assert table.get("train_loss")[0] == pytest.approx(0.319028123, abs=1e-9)


def test_packaged_file_is_small():
    assert (REPO / "jaxnas/resources/nb201_cifar10_valid.npz").stat().st_size < 500_000


def test_table_keeps_near_ties_apart(table):
    # float32 would merge ~3,000 distinct valid accuracies; float64 keeps the CSV's values.
    assert np.unique(table.get("valid_acc")).size == 10894


def test_unknown_metric_names_the_known_ones(table):
    with pytest.raises(GroundTruthError, match="unknown metric 'acc'.*test_acc.*valid_acc"):
        table.get("acc")


def test_unknown_packaged_dataset():
    with pytest.raises(GroundTruthError, match="NB201 cifar100 ground truth .* is not shipped"):
        load_table("cifar100")


def test_save_and_load_roundtrip(table, tmp_path):
    path = tmp_path / "mine.npz"
    save_table(table, path)
    loaded = load_table(path=path)
    assert loaded.source == table.source
    for name, values in table.metrics.items():
        np.testing.assert_array_equal(loaded.get(name), values)
    with pytest.raises(GroundTruthError, match="holds dataset cifar10-valid, not 'cifar100'"):
        load_table("cifar100", path=path)


def test_user_npz_from_savez(tmp_path):
    path = tmp_path / "c100.npz"
    np.savez_compressed(path, dataset="cifar100", epochs=200, valid_acc=np.arange(15625.0))
    loaded = load_table("cifar100", path=path)
    assert loaded.get("valid_acc")[7] == 7.0
    assert loaded.splits == {"valid": "x-valid"}


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "not found"),
        (b"not a zip at all", "not a readable npz"),
        ({"epochs": 200, "valid_acc": np.zeros(15625)}, "lacks field"),
        ({"dataset": "cifar10-valid", "epochs": 200, "valid_acc": np.zeros(10)}, "shape"),
        ({"dataset": "cifar10-valid", "epochs": 200}, "no metric arrays"),
    ],
)
def test_bad_table_files(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, dict):
        np.savez(path, **content)
    with pytest.raises(GroundTruthError, match=message):
        load_table(path=path)


def test_save_table_needs_full_table(tmp_path):
    partial = groundtruth.GroundTruth("cifar10-valid", 200, {"valid_acc": [1.0]}, indices=[3])
    with pytest.raises(GroundTruthError, match="all 15625"):
        save_table(partial, tmp_path / "x.npz")


def test_script_reproduces_packaged_file(shared_dir, tmp_path):
    csv = shared_dir / "data/nb201/cifar10-valid_200epochs.csv"
    if not csv.is_file():
        pytest.skip(f"CSV not found: {csv}")
    out = tmp_path / "table.npz"
    script = REPO / "experiments/make_groundtruth.py"
    subprocess.run([sys.executable, script, "--csv", csv, "--out", out], check=True,
                   capture_output=True)
    assert out.read_bytes() == (REPO / "jaxnas/resources/nb201_cifar10_valid.npz").read_bytes()


def test_nats_reader_matches_table(archive, table):
    nats = read_nats_archive(archive)
    np.testing.assert_array_equal(nats.indices, [0, 11, 284])
    assert (nats.dataset, nats.epochs) == ("cifar10-valid", 200)
    assert nats.splits == table.splits
    assert nats.archs[0] == INDEX0_ARCH
    assert nats.get("valid_acc")[0] == pytest.approx(81.98266666, abs=1e-6)
    assert nats.get("test_acc")[0] == pytest.approx(81.52, abs=1e-6)
    for name, values in nats.metrics.items():
        np.testing.assert_allclose(values, table.get(name)[nats.indices], atol=1e-6)


def test_nats_reader_datasets_and_hp(archive):
    c10 = read_nats_archive(archive, dataset="cifar10", indices=[0])
    assert set(c10.metrics) == {"train_acc", "train_loss", "test_acc", "test_loss"}
    assert c10.get("test_acc")[0] == pytest.approx((85.79 + 85.62 + 86.18) / 3)
    c100 = read_nats_archive(archive, dataset="cifar100", indices=[0])
    assert c100.splits == {"train": "train", "valid": "x-valid", "test": "x-test",
                           "valtest": "ori-test"}
    assert c100.get("valtest_acc")[0] == pytest.approx((53.11 + 51.93 + 53.38) / 3)
    short = read_nats_archive(archive, hp=12, indices=np.array([0]))
    assert short.epochs == 12
    assert short.get("valid_acc")[0] == pytest.approx((62.71199997802734 + 64.01599998291016) / 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dataset": "cifar10-test"}, "unknown NB201 dataset"),
        ({"hp": "90"}, "unknown hp"),
        ({"indices": [1]}, "no record 000001"),
        ({"indices": [15625]}, "out of range"),
        ({"indices": []}, "empty"),
    ],
)
def test_nats_reader_bad_arguments(archive, kwargs, message):
    with pytest.raises(GroundTruthError, match=message):
        read_nats_archive(archive, **kwargs)


def test_nats_reader_bad_paths(tmp_path, archive):
    with pytest.raises(GroundTruthError, match="not found"):
        read_nats_archive(tmp_path / "missing")
    with pytest.raises(GroundTruthError, match="got a file"):
        read_nats_archive(archive / "meta.pickle.pbz2")
    with pytest.raises(GroundTruthError, match="no meta.pickle.pbz2"):
        read_nats_archive(tmp_path)
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "meta.pickle.pbz2").write_bytes(b"garbage")
    with pytest.raises(GroundTruthError, match="corrupt NATS-Bench file"):
        read_nats_archive(fake)


def copy_meta(archive: Path, dest: Path) -> Path:
    dest.mkdir()
    shutil.copy(archive / "meta.pickle.pbz2", dest)
    return dest


def test_nats_reader_corrupt_record(tmp_path, archive):
    root = copy_meta(archive, tmp_path / "arch")
    with pytest.raises(GroundTruthError, match="no architecture records"):
        read_nats_archive(root)
    whole = (archive / "000000.pickle.pbz2").read_bytes()
    (root / "000000.pickle.pbz2").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(GroundTruthError, match="corrupt NATS-Bench file .*000000"):
        read_nats_archive(root)
    (root / "000000.pickle.pbz2").write_bytes(bz2.compress(pickle.dumps({"200": {}})))
    with pytest.raises(GroundTruthError, match="no hp=200 results"):
        read_nats_archive(root)
    record = {"200": {"arch_str": INDEX0_ARCH, "dataset_seed": {}}}
    (root / "000000.pickle.pbz2").write_bytes(bz2.compress(pickle.dumps(record)))
    with pytest.raises(GroundTruthError, match="unexpected layout .*missing 'cifar10-valid'"):
        read_nats_archive(root)


class Exploit:
    """Unpickling this would create a file via builtins.open."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return open, (str(self.target), "w")


def test_restricted_unpickler_refuses_forbidden_globals(tmp_path, archive):
    root = copy_meta(archive, tmp_path / "arch")
    target = tmp_path / "pwned"
    (root / "000000.pickle.pbz2").write_bytes(bz2.compress(pickle.dumps({"200": Exploit(target)})))
    with pytest.raises(GroundTruthError, match="forbidden global io.open"):
        read_nats_archive(root)
    assert not target.exists()
    (root / "meta.pickle.pbz2").write_bytes(bz2.compress(pickle.dumps(Path("x"))))
    with pytest.raises(GroundTruthError, match="forbidden global pathlib"):
        read_nats_archive(root)
