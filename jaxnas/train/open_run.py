"""One way to open a stored run: its config, its recipe (data only when scoring needs it) and
its newest intact checkpoint (`jaxnas.open(workdir)`), for evaluation, search and experiments.
"""

import json
from pathlib import Path
from typing import Any, NamedTuple

from jaxnas import config as config_lib
from jaxnas.errors import CheckpointError
from jaxnas.train import checkpoint, defaults, recipe as recipe_lib, state as state_lib
from jaxnas.train import workdir as workdir_lib


class OpenedRun(NamedTuple):
    """A stored run: `score(archs, metric)` scores cells with its newest weights."""

    workdir: Path
    config: Any
    recipe: Any
    state: Any

    @property
    def run(self):
        return self.recipe.run

    def score(self, archs, metric="accuracy", **options):
        """`Run.score` at the stored state (held-out images unless `images` are given)."""
        return self.recipe.run.score(self.state, archs, metric, **options)


def load_config(workdir):
    """The locked config of the `jaxnas train` run in `workdir` (defaults for keys it predates)."""
    config_file = Path(workdir) / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{workdir} is not a jaxnas run directory (no config.json)")
    try:
        stored = defaults.migrate(json.loads(config_file.read_text()))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{config_file} is not valid JSON: {e}") from e
    techniques = tuple(stored.get("techniques", ()))
    return config_lib.from_json(json.dumps(stored), base=defaults.base_config(techniques))


def run_info(workdir):
    """`run.json` of a workdir (steps per epoch), written by the training loop."""
    path = Path(workdir) / "run.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def restore_latest(workdir, recipe):
    """The train state of the newest intact checkpoint in `workdir`, restored into `recipe`'s
    layout (damaged newer ones are reported on stderr, one line each, and left in place)."""
    ckpt = checkpoint.Checkpointer(workdir, read_only=True)
    try:
        return ckpt.restore(recipe.init(), report=workdir_lib.notice,
                            legacy=state_lib.before_space)
    finally:
        ckpt.close()


def open_run(workdir, *, data=None, needs_data=True, config=None, progress=True):
    """Open the run in `workdir` at its newest checkpoint.

    `data` replaces the stored `data.source`; with `needs_data=False` no images are loaded
    (data-free scoring, GDAS's result) when the run recorded its steps per epoch. `config`
    (already loaded) skips reading it again. `progress`: whether the techniques show progress
    bars while the run is built (trained landmarks finishing their table)."""
    workdir = Path(workdir)
    config = load_config(workdir) if config is None else config
    if not checkpoint.steps(workdir):
        raise CheckpointError(f"{workdir} holds no checkpoint yet: train the run first")
    if data:
        config_lib.apply_overrides(config, [f"data.source={data}"])
    steps_per_epoch = run_info(workdir).get("steps_per_epoch")
    recipe = recipe_lib.from_config(config, data=needs_data or not steps_per_epoch,
                                    steps_per_epoch=steps_per_epoch, workdir=workdir,
                                    progress=progress)
    return OpenedRun(workdir, config, recipe, restore_latest(workdir, recipe))
