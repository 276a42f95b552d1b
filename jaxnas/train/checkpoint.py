"""Orbax checkpoints of the train state, written atomically, restored with clear errors.

Orbax writes each checkpoint into a temporary directory and renames it into place only when it is
complete, so an interrupted save leaves the previous checkpoint intact. The workdir also holds
`config.json`; a checkpoint is only restored under the config that wrote it.
"""

import json
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxnas.errors import CheckpointError

# Keys whose change between runs does not change what a checkpoint means.
RESUMABLE_KEYS = ("train.epochs", "train.log_every_steps", "train.checkpoint_every_steps",
                  "train.keep_checkpoints", "data.source", "data.cache_dir", "eval")


class Checkpointer:
    """Save and restore `TrainState` pytrees under `workdir/checkpoints/<step>`."""

    def __init__(self, workdir, keep=2):
        self.directory = Path(workdir).resolve() / "checkpoints"
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))

    def latest_step(self):
        return self.manager.latest_step()

    def save(self, state):
        step = int(state.step)
        if self.manager.latest_step() == step:
            return
        self.manager.save(step, args=ocp.args.StandardSave(state), force=True)
        self.manager.wait_until_finished()

    def restore(self, template):
        """Restore the latest checkpoint into the structure and shapes of `template`."""
        step = self.manager.latest_step()
        if step is None:
            raise CheckpointError(f"no checkpoint to resume from in {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        try:
            state = self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except Exception as e:  # orbax raises many types for corrupt or mismatched files
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CheckpointError(f"cannot restore checkpoint {self.directory / str(step)}: "
                                  f"{first[:300]}") from e
        _check_shapes(state, template, self.directory / str(step))
        return state

    def close(self):
        self.manager.close()


def _check_shapes(state, template, where):
    got = [np.shape(x) for x in jax.tree.leaves(state)]
    want = [np.shape(x) for x in jax.tree.leaves(template)]
    if got != want:
        raise CheckpointError(f"checkpoint {where} does not match this config's parameter shapes")


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def check_compatible(stored_json, config, workdir):
    """CheckpointError naming the first setting in which `config` differs from the stored one."""
    stored = _flatten(json.loads(stored_json))
    current = _flatten(json.loads(json.dumps(config.to_dict())))
    for key in sorted(set(stored) | set(current)):
        if any(key == k or key.startswith(k + ".") for k in RESUMABLE_KEYS):
            continue
        if stored.get(key) != current.get(key):
            raise CheckpointError(
                f"checkpoint in {workdir} was written with a different config: {key} = "
                f"{stored.get(key)!r} there, {current.get(key)!r} now")
