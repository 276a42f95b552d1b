"""The shipped configs: one file per method, each at both scales (`get_config("paper" | "mini")`,
`--config file.py:mini`) and its variants, loads, passes the key check and builds its run
(techniques that cannot combine would fail here)."""

from pathlib import Path

import pytest

from jaxnas.config import load_config
from jaxnas.train import recipe as recipe_lib, standalone_config

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.py"))
VARIANTS = {"nb201_close": ("paper,structure", "mini,structure", "mini,faithful_schedule"),
            "darts_spos": ("paper,calr,ms", "mini,calr", "mini,ms", "paper,abs", "mini,abs,ms",
                           "paper,gdas", "mini,gdas,ms", "paper,close", "mini,close"),
            "standalone": ("paper,darts", "mini,darts")}
# (C, cells) of each space's networks at each scale
SCALES = {"nb201": {"paper": (16, 5), "mini": (8, 1)}, "darts": {"paper": (16, 8), "mini": (4, 3)}}
OWN_SCALES = {"paper,gdas": (16, 6)}  # AutoDL's DARTS-space GDAS search network: 6 cells
FINAL_SCALES = {"paper": (36, 20), "mini": (8, 5)}  # DARTS's evaluation network
CASES = [(p, arg) for p in CONFIGS for arg in ("paper", "mini", *VARIANTS.get(p.stem, ()))]


@pytest.mark.parametrize("path, arg", CASES, ids=lambda x: getattr(x, "stem", x))
def test_config_builds(path, arg):
    config = load_config(path, arg)
    if standalone_config.is_standalone(config):  # `jaxnas standalone`: checked, no recipe
        standalone_config.check(config, paths=False)
        kind = standalone_config.config_type(config)
        if kind == "darts_search":  # the DARTS supernet's networks, at its scales
            assert (config.network.C, config.network.layers) == SCALES["darts"][
                arg.split(",")[0]]
        elif kind == "darts":  # `jaxnas final`: DARTS's evaluation network
            assert (config.network.C, config.network.layers) == FINAL_SCALES[arg]
        else:
            assert (config.network.C, config.network.N) == SCALES["nb201"][arg]
        return
    recipe = recipe_lib.from_config(config, data=False, steps_per_epoch=390)
    assert recipe.run.total_steps == 390 * config.train.epochs
    cells = config.supernet.layers if config.space == "darts" else config.supernet.N
    want = OWN_SCALES.get(arg, SCALES[config.space][arg.split(",")[0]])
    assert (config.supernet.C, cells) == want


def test_the_paper_scale_is_the_default():
    for path in CONFIGS:
        assert load_config(path).to_dict() == load_config(path, "paper").to_dict(), path
