"""Landmarks trained, not looked up: their ground truth from the stand-alone trainer.

With `landmark.table="train"` the landmark set's accuracies come from training each landmark
cell alone (`jaxnas.train.standalone`) at the run's scale: its network width and depth, its
images (resolution, crop padding, flips, data source) and its seed, with the space's stand-alone
recipe (NB201: NAS-Bench-201's, SGD Nesterov lr 0.1 cosine, weight decay 5e-4, batch 256; DARTS:
the genotype in DARTS's search network with the DARTS supernet's SGD,
`standalone_config.darts_search_config`) for the run's
`train.epochs`; `landmark.train_overrides` changes any stand-alone key, e.g.
`("train.epochs=20", "train.k=4")`. This is the landmark paper's pipeline in real use, where no
benchmark table exists (a new dataset, a new scale): the landmarks' held-out accuracy
(`valid_acc`, the cifar10-valid protocol's x-valid) ranks them.

The initial set is the cells the looked-up selection would pick (`initial_cells`); each later
round of the multi-round pipeline trains its `top_k` additions before they join. Every batch of
trained cells is a stand-alone workdir under `landmark.train_dir` (default
`<run workdir>/landmarks`): `initial/`, `round2/`, ..., each resumable, so an interrupted run
resumes the landmark training where it stopped, and a finished table is read without
retraining. Runs of one seed may share a `train_dir` (their landmark cells are the same).
"""

from pathlib import Path

import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.evaluate import groundtruth
from jaxnas.techniques.landmark import landmarks as lm_lib
from jaxnas.train import standalone, standalone_config

TRAIN = "train"      # the `landmark.table` value that trains the landmarks
METRIC = "valid_acc"  # the held-out half's accuracy: what landmarks are ranked by
SELECTIONS = ("random", "diverse")  # "fixed" needs the accuracies to rank


def directory(config, run) -> Path:
    """Where the landmark tables live: `landmark.train_dir`, else `<workdir>/landmarks`."""
    c = config.landmark
    if c.train_dir:
        return Path(c.train_dir)
    if run.workdir is None:
        raise ConfigError("landmark.table='train' needs landmark.train_dir when the run is built "
                          "without a workdir")
    return Path(run.workdir) / "landmarks"


def check(config):
    """ConfigError for settings trained landmarks cannot honour."""
    c = config.landmark
    if c.select not in SELECTIONS:
        raise ConfigError(f"landmark.select must be one of {SELECTIONS} with landmark.table="
                          f"'train' (got {c.select!r}: it ranks cells by accuracy)")
    if c.metric != METRIC:
        raise ConfigError(f"landmark.metric must be {METRIC!r} with landmark.table='train' (the "
                          f"trained landmarks' held-out accuracy), got {c.metric!r}")
    if isinstance(c.train_overrides, str) or not all(
            isinstance(o, str) for o in c.train_overrides):
        raise ConfigError("landmark.train_overrides must be a tuple of 'key=value' strings, got "
                          f"{c.train_overrides!r}")
    standalone_config_for(config, "")  # a bad override is one line now, not after training


def initial_cells(config, space, seed) -> np.ndarray:
    """The initial landmark cells: in a space with official indices, the cells the looked-up
    selection (`landmark.select`, "random" or "diverse") picks from a table of every cell with
    the same seed, so a trained and a looked-up arm of one seed regularise the same cells and
    differ only by their ground truth; elsewhere `landmark.num` distinct cells drawn uniformly."""
    c = config.landmark
    if space.size is not None:
        every = np.arange(space.size, dtype=np.int64)
        picked = lm_lib.select(lm_lib.Table(every, np.zeros(space.size)), c.num, c.select,
                               seed=seed, distance=c.distance, roots=c.roots)
        return space.from_index(picked)
    if c.select != "random":
        raise ConfigError(f"landmark.select must be 'random' with landmark.table='train' in the "
                          f"{space.name} space, got {c.select!r}")
    return space.sample_np(np.random.default_rng(seed), c.num, unique=True)


def standalone_config_for(config, cells_file):
    """The stand-alone trainer's config at the run's scale for the cells listed in `cells_file`
    (checked: ConfigError naming a bad `landmark.train_overrides` key or value)."""
    s = standalone_config.for_supernet(config)
    s.archs.file = str(cells_file)
    standalone_config.override(s, config.landmark.train_overrides)
    return standalone_config.check(s, paths=bool(cells_file))


def train_cells(config, space, archs, folder, *, progress=True) -> lm_lib.Table:
    """Train `archs` stand-alone in `folder` (resuming what is there) and return their table.

    A folder whose table already holds every cell is read without starting the trainer."""
    folder = Path(folder)
    names = [space.to_str(a) for a in archs]
    table_path = folder / standalone.TABLE
    if table_path.is_file():
        have = {r["arch"] for r in groundtruth.read_standalone_rows(table_path,
                                                                    diverged=True)}
        if have.issuperset(names):
            return lm_lib.read_table(table_path, METRIC, space)
    folder.mkdir(parents=True, exist_ok=True)
    cells_file = folder / "landmark_cells.txt"
    text = "\n".join(names) + "\n"
    if cells_file.is_file() and cells_file.read_text() != text:
        raise ConfigError(f"{folder} trains other landmark cells than this run's; use another "
                          "landmark.train_dir")
    cells_file.write_text(text)
    s = standalone_config_for(config, cells_file)
    resume = (folder / standalone.CELLS).is_file()
    standalone.train(s, folder, resume=resume, progress=progress)
    return lm_lib.read_table(table_path, METRIC, space)


def merged(tables) -> lm_lib.Table:
    """One table of the landmark batches trained so far."""
    indices = np.concatenate([t.indices for t in tables])
    acc = np.concatenate([t.acc for t in tables])
    indices, first = np.unique(indices, return_index=True)  # a cell read twice counts once
    return lm_lib.Table(indices, acc[first])


def round_folder(root, round_number) -> Path:
    """The folder of the cells round `round_number` (2, 3, ...) adds."""
    return Path(root) / f"round{round_number}"


def trained_rounds(root, config, space):
    """Tables of the later rounds already trained under `root` (a resumed run's additions)."""
    tables = []
    for r in range(2, config.landmark.rounds + 1):
        table = round_folder(root, r) / standalone.TABLE
        if table.is_file():
            tables.append(lm_lib.read_table(table, METRIC, space))
    return tables
