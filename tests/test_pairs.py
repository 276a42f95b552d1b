"""Any mix trains: every pair of shipped techniques, on the SPOS mini config for one epoch on
tiny data, either trains or refuses with one line naming a technique of the pair and why."""

import itertools
from pathlib import Path

import numpy as np
import pytest

from jaxnas import config as config_lib
from jaxnas.errors import ConfigError
from jaxnas.train import defaults, recipe as recipe_lib, registry

SPOS_MINI = f"{Path(__file__).resolve().parents[1]}/configs/nb201_spos.py:mini"
# Pairs that cannot work, and a word of the reason each refusal must give.
REFUSED = {("close", "calr"): "schedule", ("close", "gdas"): "forward"}
# Pairs that run without JAXNAS_SLOW=1: the refusals and pairs that together train every
# technique beside another (each pair is a compilation: all 15 would cost CI ~5 minutes).
QUICK = {*REFUSED, ("close", "landmark"), ("calr", "ms"), ("abs", "gdas")}
PAIRS = [pair if pair in QUICK else pytest.param(pair, marks=pytest.mark.slow)
         for pair in itertools.combinations(registry.BUILTIN, 2)]


def _config(tiny_folder, tmp_path, pair):
    config = config_lib.load_config(SPOS_MINI)
    defaults.override(config, [f"techniques={pair!r}", f"data.source={str(tiny_folder)!r}",
                               f"data.cache_dir={str(tmp_path)!r}", "data.resolution=8",
                               "data.pad=1", "supernet.C=4", "train.epochs=1",
                               "train.batch_size=20", "eval.every_epochs=0"])
    if "landmark" in pair:  # the tiny held-out half is smaller than the evaluation reserve
        config.landmark.eval_reserve = 0
    return config


@pytest.mark.parametrize("pair", PAIRS, ids="+".join)
def test_every_pair_trains_one_epoch_or_refuses_in_one_line(pair, tiny_folder, tmp_path):
    config = _config(tiny_folder, tmp_path, pair)
    try:
        recipe = recipe_lib.from_config(config)
    except ConfigError as e:
        message = str(e)
        assert pair in REFUSED, f"{pair} refused: {message}"
        assert "\n" not in message and any(n in message for n in pair), message
        assert REFUSED[pair] in message, message
        return
    assert pair not in REFUSED, f"{pair} built, but it should refuse"
    state = recipe.init()
    state, step_args, _ = recipe.epoch_start(state, 1)
    images, labels = recipe.run.train_data
    for start in range(0, len(labels) - 19, 20):
        state, metrics = recipe.train_step(state, images[start:start + 20],
                                           labels[start:start + 20], step_args)
    assert np.isfinite(float(metrics["loss"])) and int(state.step) == len(labels) // 20
