"""`jaxnas final`: train one found DARTS genotype from scratch as DARTS evaluates it, and report
its test accuracy.

    jaxnas final --config configs/darts_final.py:mini --arch "Genotype(normal=[...], ...)" \
        --workdir W --data /path/to/cifar10-image-folder [--resume]

It is the stand-alone trainer (`jaxnas.train.standalone`) with a DARTS config
(`standalone_config.darts_config`): DARTS's evaluation network of the genotype
(`jaxnas.supernet.darts_eval`), its auxiliary loss, drop path and cutout, the whole training
split, the test split at the end; checkpointed and resumable as every stand-alone run, with its
row in `W/table.csv` (the genotype text in `arch`, valid_* empty with `data.split="full"`).
"""

import json
import time
from pathlib import Path

from jaxnas import spaces
from jaxnas.errors import ArchError, ConfigError, DivergenceError
from jaxnas.evaluate import groundtruth
from jaxnas.train import standalone, standalone_config


def read_genotype(path):
    """The genotype `[28]` in a file: Genotype text (a `#` comment and blank lines allowed), or
    a `jaxnas search` result JSON (its `found.arch`). One-line errors."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"architecture file not found: {path}")
    text = path.read_text()
    space = spaces.get("darts")
    if text.lstrip().startswith("{"):
        try:
            found = json.loads(text)["found"]["arch"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ConfigError(f"{path} is JSON but not a search result with found.arch") from None
        return space.from_str(found)
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) != 1:
        raise ArchError(f"{path} must hold one Genotype(...) line, it holds {len(lines)}")
    try:
        return space.from_str(lines[0])
    except ArchError as error:
        raise ArchError(f"{path}: {error}") from None


def final(config, workdir, arch, *, resume=False, progress=True):
    """Train the genotype `arch` (`[28]` or Genotype text) with the DARTS config `config` in
    `workdir`; returns its table row (`groundtruth.STANDALONE_COLUMNS`) with `seconds` of
    this call added."""
    standalone_config.check(config)
    if config.space != "darts":
        raise ConfigError("jaxnas final trains a DARTS genotype: its config must have "
                          "space='darts' (configs/darts_final.py)")
    space = spaces.get("darts")
    arch = space.from_str(arch) if isinstance(arch, str) else space.check(arch, batched=False)
    start = time.perf_counter()
    summary = standalone.train(config, workdir, resume=resume, progress=progress,
                               archs=arch[None])
    row = groundtruth.read_standalone_rows(summary["table"], diverged=True)[0]
    if row["diverged"]:  # train.on_divergence="record": the table holds it without accuracy
        raise DivergenceError(f"final training of {row['arch']} diverged (recorded in "
                              f"{summary['table']}); lower optim.lr")
    return {**row, "seconds": time.perf_counter() - start}
