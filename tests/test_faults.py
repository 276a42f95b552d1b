"""Faults lose little work: damaged checkpoints, kills, a second writer, a full disk.

The unit tests use a small train state and `Checkpointer` directly; `test_kills_and_corruption`
drives `python -m jaxnas.cli train --resume` in a subprocess on the tiny image folder, kills it
at random points, damages its newest checkpoint, and checks the final state against an
uninterrupted run (bit-identical on the CPU).
"""

import json
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from conftest import tiny_config_text  # a helper beside the fixtures
from jaxnas.errors import CheckpointError
from jaxnas.train import checkpoint, state as state_lib, workdir as workdir_lib

DAMAGES = ("truncate", "delete", "flip", "metadata", "manifest", "half_written")


def _state(step, n=1000):
    params = {"a": jnp.arange(float(n)) * step, "b": {"c": jnp.full((8, 8), float(step))}}
    state = state_lib.create(params, optax.sgd(0.1, momentum=0.9), 0)
    return state._replace(step=jnp.int32(step))


def _save(workdir, steps, keep=3):
    ckpt = checkpoint.Checkpointer(workdir, keep=keep)
    for s in steps:
        ckpt.save(_state(s))
    ckpt.close()


def _data_files(step_dir):
    """The files of a checkpoint step directory, largest first (the array data)."""
    files = [p for p in Path(step_dir).rglob("*")
             if p.is_file() and p.name != checkpoint.MANIFEST]
    return sorted(files, key=lambda p: -p.stat().st_size)


def damage(step_dir, how, rng=None):
    """Damage a checkpoint step directory as a full disk, a killed copy or bad media would."""
    step_dir = Path(step_dir)
    files = _data_files(step_dir)
    rng = rng or np.random.default_rng(0)
    if how == "truncate":
        os.truncate(files[0], files[0].stat().st_size // 2)
    elif how == "delete":
        files[0].unlink()
    elif how == "flip":  # one bit, anywhere in the largest file
        data = bytearray(files[0].read_bytes())
        data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        files[0].write_bytes(bytes(data))
    elif how == "metadata":
        (step_dir / "_CHECKPOINT_METADATA").unlink()
    elif how == "manifest":
        (step_dir / checkpoint.MANIFEST).unlink()
    elif how == "half_written":  # an interrupted copy: half the files, no manifest yet
        for f in files[::2]:
            f.unlink()
        (step_dir / checkpoint.MANIFEST).unlink()
    else:
        raise ValueError(how)


def _assert_same(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_newest_checkpoint_falls_back(tmp_path, capfd, how):
    _save(tmp_path, (1, 2, 3))
    damage(tmp_path / "checkpoints" / "3", how)
    lines = []
    with workdir_lib.quiet_logging(tmp_path):
        ckpt = checkpoint.Checkpointer(tmp_path, keep=3)
        state = ckpt.restore(_state(0), report=lines.append)
        _assert_same(state, _state(2))
        assert len(lines) == 1 and lines == ckpt.skipped
        assert "checkpoint 3 is damaged" in lines[0] and "using checkpoint 2" in lines[0]
        # set aside, so that orbax's max_to_keep and new saves never meet it again
        assert ckpt.steps() == [2, 1] and (tmp_path / checkpoint.DAMAGED / "3").is_dir()
        ckpt.save(_state(3))
        assert checkpoint.verify(tmp_path / "checkpoints" / "3") is None
        ckpt.close()
    assert capfd.readouterr().err == ""


def test_no_intact_checkpoint_is_one_line(tmp_path, capfd):
    _save(tmp_path, (1, 2), keep=2)
    damage(tmp_path / "checkpoints" / "2", "flip")
    damage(tmp_path / "checkpoints" / "1", "truncate")
    with workdir_lib.quiet_logging(tmp_path):
        ckpt = checkpoint.Checkpointer(tmp_path)
        with pytest.raises(CheckpointError, match="none of the 2 .* is intact") as e:
            ckpt.restore(_state(0))
        ckpt.close()
    assert "\n" not in str(e.value) and "2: " in str(e.value) and "older ones: 1" in str(e.value)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["1", "2"]  # nothing moved
    assert capfd.readouterr().err == ""
    with pytest.raises(CheckpointError, match="no checkpoint"):
        checkpoint.Checkpointer(tmp_path / "empty").restore(_state(0))


def test_checkpoints_from_before_manifests(tmp_path, capfd):
    """Without any manifest (older jaxnas) the newest checkpoint orbax can read is used,
    saying it was not verified; one orbax cannot read is passed over."""
    _save(tmp_path, (1, 2, 3))
    for m in tmp_path.rglob(checkpoint.MANIFEST):
        m.unlink()
    damage(tmp_path / "checkpoints" / "3", "truncate")
    lines = []
    with workdir_lib.quiet_logging(tmp_path):
        ckpt = checkpoint.Checkpointer(tmp_path, keep=3)
        _assert_same(ckpt.restore(_state(0), report=lines.append), _state(2))
        ckpt.close()
    assert len(lines) == 2 and "orbax cannot read it" in lines[0]
    assert "checkpoint 2 has no checksum manifest" in lines[1]
    assert "without verification" in lines[1]
    assert capfd.readouterr().err == ""


def test_read_only_restore_changes_nothing(tmp_path):
    _save(tmp_path, (1, 2))
    damage(tmp_path / "checkpoints" / "2", "delete")
    def listing():
        return sorted(str(p) for p in tmp_path.rglob("*") if p.name != workdir_lib.LOG)

    before, lines = listing(), []
    with workdir_lib.quiet_logging(tmp_path):
        ckpt = checkpoint.Checkpointer(tmp_path, read_only=True)
        _assert_same(ckpt.restore(_state(0), report=lines.append), _state(1))
        ckpt.close()
    assert len(lines) == 1 and "set aside" not in lines[0]
    assert listing() == before


def test_restore_a_given_step(tmp_path):
    _save(tmp_path, (1, 2, 3))
    damage(tmp_path / "checkpoints" / "2", "flip")
    ckpt = checkpoint.Checkpointer(tmp_path, read_only=True)
    _assert_same(ckpt.restore(_state(0), step=1), _state(1))
    with pytest.raises(CheckpointError, match="2: .*sha256 mismatch"):
        ckpt.restore(_state(0), step=2)
    with pytest.raises(CheckpointError, match="no checkpoint 4"):
        ckpt.restore(_state(0), step=4)
    ckpt.close()


def test_full_disk_keeps_the_previous_checkpoint(tmp_path, capfd):
    """A write that fails (here: the file size limit, as a full disk fails it) is one line
    naming the intact checkpoint; the failed step leaves nothing behind."""
    _save(tmp_path, (1, 2), keep=2)
    big = _state(3, n=100_000)  # 400 kB of parameters
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    with workdir_lib.quiet_logging(tmp_path):
        ckpt = checkpoint.Checkpointer(tmp_path, keep=2)
        old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
        try:
            with pytest.raises(CheckpointError) as e:
                ckpt.save(big)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, old)
        assert str(e.value).endswith("File too large; checkpoint 2 is intact"), e.value
        assert sorted(os.listdir(tmp_path / "checkpoints")) == ["1", "2"]
        _assert_same(ckpt.restore(_state(0)), _state(2))
        ckpt.save(big)  # and saving works again once there is room
        ckpt.close()
    assert capfd.readouterr().err == ""


def test_time_based_saves(tmp_path, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(checkpoint.time, "monotonic", lambda: clock[0])
    ckpt = checkpoint.Checkpointer(tmp_path, every_steps=0, every_minutes=10)
    assert not ckpt.maybe_save(_state(1))
    clock[0] += 599
    assert not ckpt.due(2)
    clock[0] += 1
    assert ckpt.maybe_save(_state(3)) and ckpt.steps() == [3]
    assert not ckpt.due(4)  # the clock restarts at each save
    clock[0] += 600
    assert ckpt.due(4)
    ckpt.close()
    by_steps = checkpoint.Checkpointer(tmp_path / "s", every_steps=5)
    assert [s for s in range(1, 12) if by_steps.due(s)] == [5, 10]


def test_one_writer_per_workdir(tmp_path):
    with workdir_lib.WorkdirLock(tmp_path):
        with pytest.raises(workdir_lib.WorkdirError, match=f"in use by .*pid {os.getpid()}"):
            workdir_lib.WorkdirLock(tmp_path).acquire()
    with workdir_lib.WorkdirLock(tmp_path):  # released
        pass
    # a lock left by a killed process does not block
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from jaxnas.train import workdir; "
         "workdir.WorkdirLock(sys.argv[1]).acquire(); print('locked', flush=True); "
         "time.sleep(60)", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(workdir_lib.WorkdirError, match=f"pid {holder.pid}"):
            workdir_lib.WorkdirLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with workdir_lib.WorkdirLock(tmp_path):
        assert json.loads((tmp_path / workdir_lib.LOCK).read_text())["pid"] == os.getpid()


def test_unwritable_workdir_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(workdir_lib.WorkdirError, match="cannot write to workdir"):
        workdir_lib.WorkdirLock(tmp_path / "file" / "run").acquire()


def test_no_progress_silences_every_bar(tmp_path):
    """--no-progress reaches bars the command does not own (data decoding) through tqdm's env,
    read when tqdm is first imported: in a fresh process, after the CLI parsed its arguments."""
    code = ("from jaxnas import cli\n"
            f"assert cli.main(['train', '--config', 'none.py', '--workdir', {str(tmp_path)!r}, "
            "'--no-progress']) == 2\n"
            "from tqdm import tqdm\n"     # as jaxnas.data imports it, after the arguments
            "for _ in tqdm(range(3), desc='decoding'): pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TQDM_")}
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=tmp_path).stderr
    assert "config" in err and "Traceback" not in err and "decoding" not in err, err


def test_quiet_logging_keeps_library_noise_in_the_log(tmp_path, capfd):
    class Noisy:
        def __del__(self):
            raise RuntimeError("unraisable noise")

    with workdir_lib.quiet_logging(tmp_path):
        logging.getLogger("absl").warning("absl noise")
        logging.getLogger("asyncio").error("asyncio noise")
        warnings.warn("warning noise")
        Noisy()
        t = threading.Thread(target=lambda: 1 / 0)
        t.start()
        t.join()
    assert capfd.readouterr().err == ""
    text = (tmp_path / workdir_lib.LOG).read_text()
    for noise in ("absl noise", "asyncio noise", "warning noise", "unraisable noise",
                  "ZeroDivisionError"):
        assert noise in text
    logging.getLogger("absl").warning("after")  # undone on exit
    assert "after" not in (tmp_path / workdir_lib.LOG).read_text()


def test_trim_metrics(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1, "step": 3}\n{"epoch": 2, "step": 6}\n{"epoch": 3, "st')
    workdir_lib.trim_metrics(path, 3)
    assert path.read_text() == '{"epoch": 1, "step": 3}\n'


def _newest(workdir):
    steps = checkpoint.Checkpointer(workdir, read_only=True).steps()
    return steps[0] if steps else None


def test_kills_and_corruption(tiny_folder, tmp_path):
    """SIGKILL `jaxnas train --resume` at random points, damage the newest checkpoint, resume:
    the final train state equals an uninterrupted run's, bit for bit."""
    from jaxnas import config as config_lib
    from jaxnas.train import loop

    epochs, minutes = 20, 0.005  # 60 steps; a time-based checkpoint every 0.3 s
    config_file = tmp_path / "tiny.py"
    config_file.write_text(tiny_config_text(tiny_folder, tmp_path / "cache", epochs=epochs,
                                            keep_checkpoints=3, checkpoint_every_minutes=minutes))
    config = config_lib.load_config(config_file)
    config_lib.apply_overrides(config, ["train.checkpoint_every_minutes=0"])  # saves not needed
    loop.train(config, tmp_path / "ref", progress=False)  # uninterrupted; fills the XLA cache

    run = tmp_path / "run"
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=jax.config.jax_compilation_cache_dir,
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    cmd = [sys.executable, "-m", "jaxnas.cli", "train", "--config", str(config_file),
           "--workdir", str(run), "--resume", "--no-progress"]
    seed = int(os.environ.get("JAXNAS_FAULT_SEED", time.time_ns() % 10**6))
    rng, why = np.random.default_rng(seed), f"(rerun with JAXNAS_FAULT_SEED={seed})"
    kills, lost = 0, []
    for _ in range(3):
        before = _newest(run) or 0
        target = before + int(rng.integers(1, 16))  # a random step 1 to 15 steps ahead ...
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        while proc.poll() is None and (_newest(run) or 0) < target:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))  # ... and a random moment after it (mid-step or save)
        if proc.poll() is None:
            proc.kill()
            killed_at = time.time()
            kills += 1
        err = proc.communicate()[1]
        if before == 0:
            assert "no checkpoint in" in err and "starting" in err, err  # --resume, new workdir
        assert "Traceback" not in err and proc.returncode in (0, -signal.SIGKILL), err
        if proc.returncode == 0:
            break
        intact = [s for s in checkpoint.steps(run)
                  if checkpoint.verify(run / "checkpoints" / str(s)) is None]
        manifest = run / "checkpoints" / str(intact[0]) / checkpoint.MANIFEST
        lost.append(killed_at - manifest.stat().st_mtime)
    assert kills >= 2, f"the run ended before it could be killed twice {why}"

    # damage the newest checkpoint; the resumed run says so in one line and uses the one before
    steps = checkpoint.Checkpointer(run, read_only=True).steps()
    how = str(rng.choice(["truncate", "flip", "delete"]))
    damage(run / "checkpoints" / str(steps[0]), how, rng)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{done.stderr} {why}"
    notices = [line for line in done.stderr.splitlines() if line.startswith("jaxnas:")]
    assert not any(noise in done.stderr for noise in ("Traceback", "WARNING", "absl", "Error ")), \
        done.stderr  # the library's detail is in jaxnas.log
    assert len(notices) == 1 and f"checkpoint {steps[0]} is damaged" in notices[0], why
    assert f"using checkpoint {steps[1]} instead" in notices[0]

    template = checkpoint.Checkpointer(tmp_path / "ref", read_only=True).restore(
        loop.recipe_lib.from_config(config).init())
    final = checkpoint.Checkpointer(run, read_only=True).restore(template)
    assert int(final.step) == int(template.step) == 3 * epochs
    _assert_same(final, template)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, epochs + 1))
    print(f"\nfault injection (seed {seed}): {kills} kills survived, 1 corruption ({how}) "
          f"detected, work lost per kill {', '.join(f'{s:.2f}' for s in lost)} s "
          f"(checkpoint every {60 * minutes:.2f} s); final state bit-identical")


def test_checkpoints_written_before_the_state_held_the_space_restore(tiny_config, tmp_path):
    """A checkpoint of the layout before `TrainState.space` (jaxnas up to 0d8a1eb) restores with
    `legacy=state.before_space`, taking the run's initial space; without it, it is refused."""
    from jaxnas.train import state as state_lib
    from test_train import tiny_recipe

    new = tiny_recipe(tiny_config).init()
    old, _ = state_lib.before_space(new)
    ckpt = checkpoint.Checkpointer(tmp_path)
    ckpt.save(old._replace(step=jax.numpy.int32(3)))
    ckpt.close()
    ckpt = checkpoint.Checkpointer(tmp_path, read_only=True)
    with pytest.raises(CheckpointError, match="none of the 1"):
        ckpt.restore(new)
    got = ckpt.restore(new, legacy=state_lib.before_space)
    ckpt.close()
    assert isinstance(got, state_lib.TrainState) and int(got.step) == 3
    np.testing.assert_array_equal(got.space, new.space)
    for a, b in zip(jax.tree.leaves(got.params), jax.tree.leaves(new.params)):
        np.testing.assert_array_equal(a, b)
