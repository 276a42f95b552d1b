"""`experiments/bench_accel.py` in quick mode on the CPU at tiny sizes: every field is written.

No timing is checked (throughput belongs to the benchmark); the test checks that each
measurement ran, that its fields are present and sane, and the scoring extrapolation's arithmetic.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STEP_FIELDS = ("compile_s", "median_step_ms", "images_per_s", "peak_bytes", "memory_source",
               "platform", "impl")
SCORING_FIELDS = ("cells", "distinct_cells", "images_per_cell", "first_call_s", "subset_s",
                  "subset_images_per_s", "all_cells_s", "all_cells_measured",
                  "all_cells_images_per_s", "peak_bytes", "memory_source", "platform")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("accel") / "accel.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, str(ROOT / "experiments" / "bench_accel.py"), "--platform", "cpu",
           "--quick", "--C", "4", "--N", "1", "--resolution", "8", "--steps", "2",
           "--warmup", "1", "--epoch-steps", "3", "--score-cells", "6", "--score-batches", "1",
           "--darts-C", "4", "--darts-layers", "3", "--darts-resolution", "8", "--sa-C", "4",
           "--sa-resolution", "8", "--out", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| step_switch |" in run.stdout and "| scoring |" in run.stdout
    return json.loads(out.read_text())


def _finite_positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_header(report):
    assert report["quick"] is True and report["platform"] == "cpu"
    assert report["sizes"] == {"C": 4, "N": 1, "resolution": 8, "batch": 64,
                               "darts": {"C": 4, "layers": 3, "resolution": 8},
                               "standalone": {"C": 4, "N": 1, "resolution": 8, "k": 2}}
    assert set(report["results"]) == {"step_switch", "step_masked", "epoch", "xautodl",
                                      "darts_step", "darts_torch", "standalone", "scoring"}


@pytest.mark.parametrize("name,impl", [("step_switch", "edge=switch"),
                                       ("step_masked", "edge=masked")])
def test_train_steps(report, name, impl):
    r = report["results"][name]
    assert "error" not in r, r
    assert all(key in r for key in STEP_FIELDS), sorted(r)
    assert r["impl"].startswith(impl) and r["platform"] == "cpu" and r["steps"] == 2
    assert r["memory_source"] in ("device", "process_rss")
    assert all(_finite_positive(r[k]) for k in ("compile_s", "median_step_ms", "images_per_s",
                                                "peak_bytes"))


def test_epoch(report):
    r = report["results"]["epoch"]
    assert "error" not in r, r
    assert r["steps"] == 3 and _finite_positive(r["epoch_s"]) and _finite_positive(r["peak_bytes"])
    assert r["images_per_s"] == pytest.approx(3 * 64 / r["epoch_s"])


def test_xautodl_ran_or_says_why(report):
    r = report["results"]["xautodl"]
    if "skipped" in r:
        assert r["skipped"] == "torch/xautodl not installed"
    else:
        assert "error" not in r, r
        assert r["epoch_s"] == pytest.approx(3 * r["median_step_ms"] / 1e3)


def test_darts_steps(report):
    """The DARTS-space step at the tiny DARTS sizes, jaxnas's and (where torch is) PyTorch's."""
    r = report["results"]["darts_step"]
    assert "error" not in r, r
    assert (r["C"], r["layers"], r["resolution"], r["steps"]) == (4, 3, 8, 2)
    assert r["platform"] == "cpu" and r["memory_source"] in ("device", "process_rss")
    assert all(_finite_positive(r[k]) for k in ("compile_s", "median_step_ms", "images_per_s",
                                                "peak_bytes", "epoch_s"))
    t = report["results"]["darts_torch"]
    if "skipped" in t:
        assert t["skipped"] == "torch not installed"
    else:
        assert "error" not in t, t
        assert (t["C"], t["layers"], t["resolution"], t["device"]) == (4, 3, 8, "cpu")
        assert t["epoch_s"] == pytest.approx(3 * t["median_step_ms"] / 1e3)


def test_standalone_stack(report):
    """K=2 stand-alone networks in one vmapped step (quick mode): the cells a device-hour
    trains follow from the step time (50 epochs of 97 steps of 256 at the mini scale)."""
    r = report["results"]["standalone"]
    assert "error" not in r, r
    assert r["k"] == 2 and r["impl"] == "K=2 vmap" and r["platform"] == "cpu"
    assert (r["epochs"], r["steps_per_epoch"]) == (50, 97)
    assert all(_finite_positive(r[k]) for k in ("compile_s", "median_step_ms", "images_per_s",
                                                "peak_bytes"))
    assert r["images_per_s"] == pytest.approx(2 * 256 / (r["median_step_ms"] / 1e3))
    assert r["cells_per_device_hour"] == pytest.approx(
        3600 * 2 / (r["median_step_ms"] / 1e3 * 97 * 50))


def test_scoring_extrapolates_in_quick_mode(report):
    r = report["results"]["scoring"]
    assert "error" not in r, r
    assert all(key in r for key in SCORING_FIELDS), sorted(r)
    assert r["cells"] == 6 and 1 <= r["distinct_cells"] <= 6 and r["images_per_cell"] == 256
    assert r["all_cells_measured"] is False  # quick mode: budget 0, extrapolated
    # 9,445 distinct pruned cells in the whole space, at the subset's seconds per distinct cell.
    assert r["all_cells_s"] == pytest.approx(r["subset_s"] / r["distinct_cells"] * 9445)
    assert r["all_cells_images_per_s"] == pytest.approx(15625 * 256 / r["all_cells_s"])
