"""Orbax checkpoints of the train state, verified by checksums, restored from the newest intact one.

Orbax writes each checkpoint into a temporary directory and renames it into place when complete,
so an interrupted save leaves the previous checkpoint intact. It does not notice damage after the
fact (a truncated copy, a full disk, a flipped byte), so after each save completes a manifest,
`<step>/jaxnas_manifest.json` (size and sha256 of every file of the step directory), is written
atomically beside orbax's files; `restore` checks it before reading.

`restore` walks the checkpoints newest first and takes the first one that verifies and that orbax
restores into the template's shapes; each one passed over is reported in one line (`report`
callback and `Checkpointer.skipped`), and a writer moves those newer than the one used to
`workdir/checkpoints.damaged/` so that new saves and orbax's `max_to_keep` never mix with them.
Checkpoints without a manifest (written before manifests existed, or whose save was killed
between orbax's commit and the manifest) are only used when no checkpoint with a valid manifest
restores, and then with a notice that they were not verified. `CheckpointError` (one line) when
none is intact. Details of failures go to the `jaxnas` logger (`workdir/jaxnas.log` when
`jaxnas.train.workdir.quiet_logging` is on), never to stderr.

The workdir also holds `config.json`; a checkpoint is only restored under the config that wrote
it (`check_compatible`).
"""

import gc
import hashlib
import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from jaxnas.errors import CheckpointError
from jaxnas.train import defaults

# Keys whose change between runs does not change what a checkpoint means.
RESUMABLE_KEYS = ("train.epochs", "train.checkpoint_every_steps",
                  "train.checkpoint_every_minutes", "train.keep_checkpoints", "data.source",
                  "data.cache_dir", "eval", "search", "parallel")

MANIFEST = "jaxnas_manifest.json"
DAMAGED = "checkpoints.damaged"  # beside `checkpoints/`: damaged steps a resumed run set aside

log = logging.getLogger("jaxnas.checkpoint")


class Checkpointer:
    """Save and restore `TrainState` pytrees under `workdir/checkpoints/<step>`.

    Args:
      workdir: the run directory.
      keep: how many checkpoints orbax keeps (the newest ones).
      every_steps, every_minutes: when `maybe_save` saves (0 = never by that criterion); the
        clock starts when the Checkpointer is made and restarts at every save.
      read_only: never write, delete or move anything (e.g. `jaxnas evaluate` beside a live run).
    """

    SYNC_STEPS = 100  # multi-host: how often the hosts agree on a time-based save

    def __init__(self, workdir, keep=2, *, every_steps=0, every_minutes=0.0, read_only=False):
        self.workdir = Path(workdir).resolve()
        self.directory = self.workdir / "checkpoints"
        self.read_only = read_only
        self.every_steps = int(every_steps or 0)
        self.every_seconds = 60.0 * float(every_minutes or 0)
        self.skipped = []  # one-line notices of the last `restore`
        self._last_save = time.monotonic()
        self._manager = None
        if not read_only:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise CheckpointError(f"cannot create {self.directory}: {_oserror(e)}") from e
        self._keep = keep

    @property
    def manager(self):
        """The orbax `CheckpointManager` (made on first use: a reader needs no directory)."""
        if self._manager is None:
            # A reader is not orbax's `read_only` (which logs warnings at every use): it never
            # calls save or delete.
            options = ocp.CheckpointManagerOptions(max_to_keep=self._keep,
                                                   create=not self.read_only,
                                                   cleanup_tmp_directories=not self.read_only)
            self._manager = ocp.CheckpointManager(self.directory, options=options)
        return self._manager

    def steps(self):
        """Steps of the checkpoint directories on disk, newest first (intact or not)."""
        return steps(self.workdir)

    def latest_step(self):
        """The newest checkpoint's step (intact or not), or None."""
        found = self.steps()
        return found[0] if found else None

    # -- saving --------------------------------------------------------------------------------

    def due(self, step):
        """Whether `maybe_save` saves at `step`: every `every_steps` steps or `every_minutes`.

        Every host of a multi-host run must take the same decision (orbax's save waits for all of
        them), and their clocks differ: there the time criterion is checked every `SYNC_STEPS`
        steps only, and process 0's answer is broadcast (one small collective per check, so the
        host does not wait for the device at every step)."""
        if self.every_steps and step % self.every_steps == 0:
            return True
        if not self.every_seconds:
            return False
        if jax.process_count() == 1:
            return time.monotonic() - self._last_save >= self.every_seconds
        if step % self.SYNC_STEPS:
            return False
        late = np.asarray(time.monotonic() - self._last_save >= self.every_seconds)
        return bool(multihost_utils.broadcast_one_to_all(late))

    def maybe_save(self, state, step=None):
        """Save `state` if `due(step)` (`step` defaults to `int(state.step)`); True if it saved."""
        step = int(state.step) if step is None else int(step)
        if not self.due(step):
            return False
        self.save(state)
        return True

    def save(self, state):
        """Write `state` as checkpoint `state.step` and its manifest; CheckpointError (one line,
        naming the checkpoint still intact) if the disk is full or the directory unwritable."""
        if self.read_only:
            raise ValueError("this Checkpointer is read-only")
        step = int(state.step)
        path = self.directory / str(step)
        if path.is_dir():
            if verify(path) is None:
                self._last_save = time.monotonic()
                return
            log.info("replacing checkpoint %s, which does not verify", path)
            shutil.rmtree(path, ignore_errors=True)
            self.manager.reload()
        try:
            self.manager.save(step, args=ocp.args.StandardSave(state), force=True)
            self.manager.wait_until_finished()
            if jax.process_index() == 0:  # one writer in a multi-host run, as orbax's commit
                write_manifest(path)
        except Exception as e:  # orbax and TensorStore raise many types for I/O failures
            log.info("saving checkpoint %s failed", path, exc_info=True)
            self._clean_failed_save(step)
            intact = [s for s in self.steps() if verify(self.directory / str(s)) is None]
            previous = (f"checkpoint {intact[0]} is intact" if intact
                        else "no earlier checkpoint is intact")
            raise CheckpointError(f"cannot write checkpoint {step} in {self.directory}: "
                                  f"{_reason(e)}; {previous}") from e
        self._last_save = time.monotonic()

    def _clean_failed_save(self, step):
        """Remove what a failed save left (orbax's temporary directory, or the step without its
        manifest), to free the space it took; the manager forgets the step. TensorStore may
        still be finishing writes of other arrays, so this retries for up to a second."""
        try:
            self.manager.wait_until_finished()
        except Exception:  # noqa: BLE001  (the same failure again)
            pass
        path = self.directory / str(step)
        for _ in range(20):
            leftovers = list(self.directory.glob(f"{step}.orbax-checkpoint-tmp*"))
            if path.is_dir() and not (path / MANIFEST).is_file():
                leftovers.append(path)
            if not leftovers:
                break
            for p in leftovers:
                shutil.rmtree(p, ignore_errors=True)
            time.sleep(0.05)
        gc.collect()  # finalise orbax's abandoned coroutines now, not at a random later time
        try:
            self.manager.reload()
        except Exception:  # noqa: BLE001  (the error being reported matters more)
            log.info("reloading the checkpoint list failed", exc_info=True)

    # -- restoring -----------------------------------------------------------------------------

    def restore(self, template, report=None, step=None, legacy=None):
        """The newest intact checkpoint, restored into the structure and shapes of `template`.

        Checkpoints passed over are reported one line each through `report(line)` (and kept in
        `self.skipped`); CheckpointError (one line) if none is intact or there is none. With
        `step`, only that checkpoint is considered (verified the same way). `legacy(template)
        -> (old_template, upgrade)` describes a layout older jaxnas versions wrote: a checkpoint
        that does not restore into `template` is tried in it, then `upgrade(state)`.
        """
        self._legacy = legacy
        self.skipped = []
        steps = self.steps()
        if step is not None:
            if step not in steps:
                raise CheckpointError(f"no checkpoint {step} in {self.directory}")
            steps = [step]
        if not steps:
            raise CheckpointError(f"no checkpoint to resume from in {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        problems, unverified = {}, []
        for step in steps:  # checkpoints with a manifest, newest first
            path = self.directory / str(step)
            if not (path / MANIFEST).is_file():
                unverified.append(step)
                continue
            problem = verify(path)
            if problem:
                problems[step] = problem
                continue
            state = self._try_restore(step, abstract, template, problems)
            if state is not None:
                return self._done(state, step, steps, problems, report)
        for step in unverified:  # then those without one: older runs, or a save cut short
            state = self._try_restore(step, abstract, template, problems)
            if state is not None:
                problems.pop(step, None)
                note = (f"checkpoint {step} has no checksum manifest (written by an older jaxnas, "
                        f"or its save was cut short): restored without verification")
                return self._done(state, step, steps, problems, report, note)
            problems[step] = "no checksum manifest; " + problems[step]
        for step in steps:
            log.info("checkpoint %s: %s", step, problems.get(step))
        older = f"; older ones: {', '.join(map(str, steps[1:]))}" if len(steps) > 1 else ""
        raise CheckpointError(f"cannot restore checkpoint: none of the {len(steps)} in "
                              f"{self.directory} is intact (newest, {steps[0]}: "
                              f"{problems.get(steps[0])}{older})")

    def _try_restore(self, step, abstract, template, problems):
        state = self._read(step, abstract, problems)
        upgrade = None
        if state is None and getattr(self, "_legacy", None) is not None:
            old, upgrade = self._legacy(template)
            state = self._read(step, jax.tree.map(ocp.utils.to_shape_dtype_struct, old), {})
            template = old
        if state is None:
            return None
        if not _same_shapes(state, template):
            problems[step] = "its arrays do not have this config's shapes"
            return None
        state = jax.tree.map(_placed_as, state, template)
        return state if upgrade is None else upgrade(state)

    def _read(self, step, abstract, problems):
        try:
            return self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except Exception as e:  # orbax raises many types for corrupt or mismatched files
            log.info("restoring checkpoint %s failed", self.directory / str(step), exc_info=True)
            problems[step] = f"orbax cannot read it: {_reason(e)}"
            gc.collect()  # finalise orbax's abandoned coroutines now, not at a random later time
            return None

    def _done(self, state, used, steps, problems, report, note=None):
        """Report what was passed over, set aside damaged newer steps, return `state`."""
        lines = []
        for step in steps:
            if step <= used:
                break
            problem = problems.get(step, "no checksum manifest: a save cut short or a lost file")
            line = f"checkpoint {step} is damaged ({problem}); using checkpoint {used} instead"
            if not self.read_only and jax.process_index() == 0:
                line += f"; set aside in {self._set_aside(step)}"
            lines.append(line)
        if note:
            lines.append(note)
        for line in lines:
            log.info(line)
            if report is not None:
                report(line)
        self.skipped = lines
        if lines and not self.read_only:
            self.manager.reload()
        return state

    def _set_aside(self, step):
        """Move damaged step `step` to `workdir/checkpoints.damaged/<step>[.n]`."""
        target = self.workdir / DAMAGED / str(step)
        n = 1
        while target.exists():
            target, n = self.workdir / DAMAGED / f"{step}.{n}", n + 1
        target.parent.mkdir(exist_ok=True)
        shutil.move(str(self.directory / str(step)), str(target))
        return target

    def close(self):
        if self._manager is not None:
            self._manager.close()


def steps(workdir):
    """Steps of the checkpoint directories in `workdir/checkpoints`, newest first (intact or
    not; orbax's temporary directories of unfinished saves are not checkpoints)."""
    directory = Path(workdir) / "checkpoints"
    if not directory.is_dir():
        return []
    return sorted((int(p.name) for p in directory.iterdir() if p.name.isdigit() and p.is_dir()),
                  reverse=True)


def _file_digest(path, sync=False):
    """(size, sha256 hex) of a file; with `sync`, flushed to disk first, so that a manifest
    never vouches for data that is still only in the page cache."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if sync:
            try:
                os.fsync(f.fileno())
            except OSError:  # some filesystems refuse fsync on a read-only descriptor
                pass
        size = 0
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def _files(step_dir):
    return sorted(p.relative_to(step_dir).as_posix() for p in step_dir.rglob("*")
                  if p.is_file() and not p.name.startswith(MANIFEST))


def write_manifest(step_dir):
    """Write `step_dir/jaxnas_manifest.json` atomically (temporary file, fsync, rename)."""
    step_dir = Path(step_dir)
    files = {}
    for rel in _files(step_dir):
        size, digest = _file_digest(step_dir / rel, sync=True)
        files[rel] = {"size": size, "sha256": digest}
    tmp = step_dir / f"{MANIFEST}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump({"format": 1, "files": files}, f, indent=0, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, step_dir / MANIFEST)
    _fsync_dir(step_dir)
    _fsync_dir(step_dir.parent)


def verify(step_dir):
    """None if every file listed in the manifest of `step_dir` is there with its size and
    sha256, else a short reason (files orbax did not write, e.g. notes, are ignored)."""
    step_dir = Path(step_dir)
    try:
        manifest = json.loads((step_dir / MANIFEST).read_text())
        files = manifest["files"]
        if not files or not all(isinstance(v, dict) for v in files.values()):
            raise ValueError("no files listed")
    except FileNotFoundError:
        return "no checksum manifest"
    except (OSError, ValueError, KeyError, TypeError):
        return "its checksum manifest is unreadable"
    for rel, want in sorted(files.items()):
        path = step_dir / rel
        if not path.is_file():
            return f"{rel} is missing"
        try:
            size, digest = _file_digest(path)
        except OSError as e:
            return f"{rel} cannot be read: {_oserror(e)}"
        if size != want.get("size"):
            return f"{rel} has {size} bytes, {want.get('size')} were written"
        if digest != want.get("sha256"):
            return f"{rel} changed after it was written (sha256 mismatch)"
    return None


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _oserror(e):
    return e.strerror or str(e) if isinstance(e, OSError) else str(e)


def _reason(e):
    """The operating system's reason behind an exception (TensorStore puts it in its message:
    "... [os_error_code='28']"), else the exception's first line, at most 160 characters."""
    while e.__cause__ is not None and not isinstance(e, OSError):
        e = e.__cause__
    text = _oserror(e).strip() if isinstance(e, OSError) else str(e).strip()
    code = re.search(r"os_error_code='?(\d+)", text)
    if code:
        return os.strerror(int(code.group(1)))
    first = text.splitlines()[0] if text else type(e).__name__
    return first if len(first) <= 160 else first[:157] + "..."


def _placed_as(restored, like):
    """`restored` placed as `like`: orbax's arrays are committed to a device, and a fresh state's
    (and `jnp.asarray` masks) are not, so the jitted train step would compile again for them."""
    if (isinstance(like, jax.Array) and not like.committed and isinstance(restored, jax.Array)
            and not jax.dtypes.issubdtype(restored.dtype, jax.dtypes.prng_key)):
        return jax.device_put(np.asarray(restored))
    return restored


def _same_shapes(state, template):
    got = [np.shape(x) for x in jax.tree.leaves(state)]
    want = [np.shape(x) for x in jax.tree.leaves(template)]
    return got == want


def flatten(d, prefix=""):
    """A nested dict (a config's JSON) as `{"block.key": value}`."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def check_compatible(stored_json, config, workdir):
    """CheckpointError naming the first setting in which `config` differs from the stored one.

    A setting the stored config lacks that `config` holds at its default is no difference: it
    was added to jaxnas after the checkpoint was written, and a new setting's default keeps the
    old behaviour."""
    def as_flat(c):
        return flatten(json.loads(json.dumps(c.to_dict())))
    stored = flatten(defaults.migrate(json.loads(stored_json)))
    current = as_flat(config)
    default = as_flat(defaults.base_config(config.techniques))
    for key in sorted(set(stored) | set(current)):
        if any(key == k or key.startswith(k + ".") for k in RESUMABLE_KEYS):
            continue
        if key not in stored and key in default and current.get(key) == default[key]:
            continue
        if stored.get(key) != current.get(key):
            raise CheckpointError(
                f"checkpoint in {workdir} was written with a different config: {key} = "
                f"{stored.get(key)!r} there, {current.get(key)!r} now")
