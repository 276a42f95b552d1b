"""Bad input never reaches a traceback: the config schema, the CLI's arguments, and divergence.

The rules (`jaxnas.train.rules`) give every key of the base config a rule; `defaults.check` applies
it before anything is built. The property tests draw bad (and good) config overrides and CLI
arguments and run `jaxnas.cli.main` in-process with training, evaluation and search replaced by
stubs: a draw is either accepted or ends with exit status 2, one line on stderr and the workdir as
it was. A few explicit examples train for real: the regressions of issue #33 and divergence.
"""

import contextlib
import io
import math
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings, strategies as st

from conftest import tiny_config_text  # a helper beside the fixtures
from jaxnas import cli, config as config_lib, schema
from jaxnas.errors import ConfigError
from jaxnas.train import defaults, rules, standalone_config

# `tiny.py` with an argument, as the shipped configs (`scaled.py:mini`)
SCALED = """from jaxnas.train.defaults import scale_arg


def get_config(arg="paper"):
    if scale_arg(arg)[0] == "mini":
        return base_config()"""


@pytest.fixture(scope="module")
def files(tiny_folder, tmp_path_factory):
    """Config files good and bad, a fake run directory, and folders for outputs."""
    root = tmp_path_factory.mktemp("validation")
    tiny = tiny_config_text(tiny_folder, root / "cache", keep_checkpoints=10)
    (root / "tiny.py").write_text(tiny)
    (root / "scaled.py").write_text(tiny.replace("def get_config():", SCALED))
    (root / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "no_get_config.py").write_text("x = 1\n")
    (root / "raises.py").write_text("def get_config():\n    return 1 / 0\n")
    (root / "returns_list.py").write_text("def get_config():\n    return [1, 2]\n")
    (root / "syntax.py").write_text("def get_config(:\n")
    (root / "binary.py").write_bytes(b"\xff\xfe\x00\x01")
    (root / "run").mkdir()
    (root / "run" / "config.json").write_text("{}")
    from jaxnas.data import load_data
    load_data(config_lib.load_config(root / "tiny.py").data)  # decoded once: no bars later
    return root


def _leaf_keys(config, prefix=""):
    keys = []
    for k, v in config.items():
        if hasattr(v, "items") and prefix + k not in rules.RULES:
            keys.extend(_leaf_keys(v, prefix + k + "."))
        else:
            keys.append(prefix + k)
    return keys


# -- the schema --------------------------------------------------------------------------------

def test_every_base_key_has_a_rule_and_every_rule_a_key():
    assert sorted(_leaf_keys(defaults.base_config())) == sorted(rules.RULES)


def test_the_defaults_and_every_shipped_config_pass():
    defaults.check(defaults.base_config(("close", "landmark", "dynamic.calr")))
    paths = sorted(Path(__file__).parents[1].glob("configs/*.py"))
    assert len(paths) >= 8
    for path in paths:
        for arg in (None, "paper", "mini"):  # every file has both scales
            config = config_lib.load_config(path, arg)
            if standalone_config.is_standalone(config):  # `jaxnas standalone`'s own schema
                standalone_config.check(config, paths=False)
                small = (config.network.layers == 5 if config.space == "darts"
                         else config.network.N == 1)
                assert small == (arg == "mini"), (path, arg)
                continue
            config = defaults.check(config, paths=False)
            small = (config.supernet.layers == 3 if config.space == "darts"
                     else config.supernet.N == 1)
            assert small == (arg == "mini"), (path, arg)
    for arg in ("paper,structure", "mini,structure", "mini,faithful_schedule"):
        defaults.check(config_lib.load_config(paths[0].with_name("nb201_close.py"), arg))


def test_unknown_override_keys_suggest_a_known_one():
    config = config_lib.load_config(Path(__file__).parents[1] / "configs/nb201_spos.py", "mini")
    for key, known in (("train.lr", "optim.lr"), ("optim.lrr", "optim.lr"),
                       ("train.epoch", "train.epochs")):
        with pytest.raises(ConfigError, match=rf"unknown config key '{key}' \(did you mean "
                                              rf"'{known}'\?\)"):
            config_lib.apply_overrides(config, [f"{key}=1"])


def test_config_arguments_are_checked(files, tmp_path):
    assert config_lib.load_config(f"{files}/scaled.py:mini").train.epochs == 250
    assert config_lib.load_config(files / "scaled.py").train.epochs == 2
    for spec, match in (("tiny.py:mini", "takes no argument"),
                        ("scaled.py:huge", "'huge' is not a scale"),
                        ("scaled.py:mini,x", "'x' is not a scale")):
        with pytest.raises(ConfigError, match=match):
            config_lib.load_config(f"{files}/{spec}")
    close = Path(__file__).parents[1] / "configs/nb201_close.py"
    with pytest.raises(ConfigError, match="variants: structure, faithful_schedule"):
        config_lib.load_config(close, "mini,bogus")
    with pytest.raises(ConfigError, match="at mini scale only"):
        config_lib.load_config(close, "paper,faithful_schedule")
    workdir = tmp_path / "W"
    for spec, words in (("scaled.py:huge", ["'huge' is not a scale"]),
                        ("scaled.py:", ["non-empty ARG"]),
                        ("tiny.py:mini", ["takes no argument"])):
        rc, out, err = _main(["train", "--config", f"{files}/{spec}", "--workdir", workdir])
        assert_one_line_error(rc, err, *words)
        assert out == "" and not workdir.exists()


@pytest.mark.parametrize("rule, good, bad", [
    (schema.positive_int(), [1, 7, schema.INT_MAX],
     [0, -3, True, 1.0, "1", None, schema.INT_MAX + 1, 10**400]),
    (schema.count(), [0, 5], [-1, False, 0.0, float("nan")]),
    (schema.seed(), [0, 2**32 - 1], [-1, 2**32, 1.5]),
    (schema.finite_positive(), [1e-8, 3, 0.025],
     [0, -1.0, float("nan"), float("inf"), 10**400, True, "0.1", None]),
    (schema.finite_nonnegative(), [0, 0.0, 5e-4], [-1e-9, float("-inf"), float("nan")]),
    (schema.fraction(), [0, 0.5, 1], [-0.1, 1.01, float("nan"), "0.5"]),
    (schema.fraction(upper_open=True), [0, 0.9], [1, 1.0]),
    (schema.boolean(), [True, False], [0, 1, "True", None]),
    (schema.one_of("a", "b"), ["a", "b"], ["c", "", None, ["a"]]),
    (schema.optional(schema.finite_positive()), [None, 5.0], [0.0, "None"]),
    (schema.names(), [(), ("close",), ["a", "b"]], ["close", ("",), (1,), None]),
    (schema.data_source(), ["tfds:cifar10", "."], ["tfds:", "", "/no/such/folder", 3, "a\0b"]),
    (schema.path_exists("file"), [__file__], [str(Path(__file__).parent), "", "x" * 5000]),
    (schema.folder_path(), ["", "/no/such/dir", "."], [__file__, "a\0b", None]),
    (schema.coordinator(), ["", "auto", "host0:1234", "[::1]:80"], ["host0", "host0:", " ", 0]),
])
def test_rules(rule, good, bad):
    for value in good:
        assert rule.ok(value), value
    for value in bad:
        assert not rule.ok(value), value
    assert rule.allowed and "\n" not in rule.allowed


def test_one_of_reads_its_choices_lazily():
    rule = rules.RULES["sampler"]
    assert rule.ok("uniform") and not rule.ok("uniformm")
    assert "'fairnas'" in rule.allowed


@pytest.mark.parametrize("key, value, allowed", [
    ("train.epochs", -3, "an integer in [1,"),
    ("train.batch_size", 0, "an integer in [1,"),
    ("optim.lr", float("nan"), "a finite number > 0"),
    ("optim.momentum", 1.0, "[0, 1)"),
    ("optim.clip", -5.0, "or None"),
    ("optim.groups", 3, "a dict"),
    ("sharing", "everything", "one of 'vanilla', 'cell'"),
    ("data.source", "/no/such/folder", "existing image folder"),
    ("search.budget", 0, "an integer in [1,"),
])
def test_an_error_names_the_key_the_value_and_what_is_allowed(key, value, allowed):
    config = defaults.base_config()
    block, _, leaf = key.rpartition(".")
    node = config[block] if block else config
    with node.ignore_type():
        node[leaf] = value
    with pytest.raises(ConfigError) as e:
        defaults.check(config)
    message = str(e.value)
    assert f"{key!r} is {schema.show(value)}; allowed: " in message and allowed in message
    assert "\n" not in message


def test_relations_between_keys():
    config = defaults.base_config()
    config.parallel.num_processes, config.parallel.process_id = 2, 2
    with pytest.raises(ConfigError, match=r"'parallel.process_id' is 2; allowed: .*\[0, 1\]"):
        defaults.check(config)
    config = defaults.base_config()
    config.parallel.num_devices, config.train.batch_size = 4, 66
    with pytest.raises(ConfigError, match="'train.batch_size' is 66; allowed: a multiple of"):
        defaults.check(config)


def test_paths_false_accepts_a_moved_data_folder():
    config = defaults.base_config()
    config.data.source = "/no/such/folder"
    defaults.check(config, paths=False)
    with pytest.raises(ConfigError, match="data.source"):
        defaults.check(config)


def test_a_technique_contributes_the_rules_of_its_block():
    """The hook: a technique module's optional `schema()` (tests/user_technique_checked.py)."""
    config = defaults.base_config(("user_technique_checked",))
    defaults.check(config)
    config.user_technique_checked.weight = 1.5
    with pytest.raises(ConfigError, match=r"'user_technique_checked.weight' is 1.5; allowed: "
                                          r"a number in \[0, 1\]"):
        defaults.check(config)
    config.user_technique_checked.weight = 0.5
    config.user_technique_checked.mode = "max"
    with pytest.raises(ConfigError, match="'user_technique_checked.mode' is 'max'"):
        defaults.check(config)
    # a technique without schema() (tests/user_technique.py) is only checked for its keys
    defaults.check(defaults.base_config(("user_technique",)))


def test_load_config_rejects_what_is_not_a_python_config(files):
    for name, match in (("passwd", "not a Python file"), ("no_get_config.py", "no get_config"),
                        ("raises.py", "ZeroDivisionError"), ("returns_list.py", "get_config"),
                        ("syntax.py", "SyntaxError"), ("missing.py", "not found")):
        with pytest.raises(ConfigError, match=match):
            config_lib.load_config(files / name)


# -- the command line, in-process --------------------------------------------------------------

def _main(argv):
    """`cli.main(argv)`: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def _snapshot(folder):
    folder = Path(folder)
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() \
        else None


def assert_one_line_error(rc, err, *words):
    assert rc == 2, err
    assert err.startswith("jaxnas: error: ") and err.endswith("\n"), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)


def test_issue_33_regressions(files, tmp_path):
    """The three inputs of issue #33 that reached a traceback or trained nothing; for real."""
    workdir = tmp_path / "W"
    for argv, words in (
            (["--config", files / "passwd"], ["--config", "Python config file"]),
            (["--config", files / "tiny.py", "train.epochs=-3"], ["'train.epochs' is -3"]),
            (["--config", files / "tiny.py", "train.batch_size=0"], ["'train.batch_size' is 0"])):
        rc, out, err = _main(["train", *argv[:2], "--workdir", workdir, *argv[2:]])
        assert_one_line_error(rc, err, *words)
        assert out == "" and not workdir.exists()


def test_a_batch_larger_than_the_data_is_one_line(files, tmp_path):
    rc, _, err = _main(["train", "--config", files / "tiny.py", "--workdir", tmp_path / "W",
                        "train.batch_size=100000"])
    assert_one_line_error(rc, err, "'train.batch_size' is 100000", "training images")


@pytest.fixture
def stubs(monkeypatch, tmp_path):
    """Training, evaluation and search replaced by stubs that record what they were given (a
    valid draw is accepted without training); the logging redirect is a no-op; the working
    directory is `tmp_path` (drawn relative paths, e.g. an accepted --out, land there)."""
    monkeypatch.chdir(tmp_path)
    from jaxnas.train import evaluation as eval_run
    from jaxnas.search import pipeline, workdir as search_workdir
    from jaxnas.train import loop, workdir as workdir_lib

    calls = []
    found = {"strategy": "random", "found": {k: 0 for k in (
        "arch", "index", "valid_acc", "test_acc", "rank_valid", "rank_test")}}
    monkeypatch.setattr(loop, "train", lambda config, *a, **k: calls.append(config) or {})
    summary = {"workdir": "W", "step": 1, "epochs": 1, "train": "done before", "search": {},
               "seconds": {"train": 0.0, "evaluate": 0.0, "search": 0.0}}
    monkeypatch.setattr(pipeline, "run", lambda config, *a, **k: calls.append(config) or summary)
    monkeypatch.setattr(eval_run, "evaluate_workdir", lambda *a, **k: calls.append(k) or {})
    monkeypatch.setattr(search_workdir, "search_workdir",
                        lambda *a, **k: calls.append(k) or found)
    monkeypatch.setattr(workdir_lib, "install_quiet_logging", lambda w: (lambda: None))
    return calls


# Values as a user types them: wrong types, zero, negative, huge, NaN, empty, unicode.
TYPED = ["0", "-1", "-3", "1", "3", "0.5", "1.5", "-0.0", "1e30", "1e400", "-1e400", "nan",
         "inf", "-inf", "float('nan')", "2**31", "99999999999999999999", "1" * 5000, "True",
         "False", "None", "''", '""', "' '", "()", "[]", "{}", "(1,)", "('close',)", "('',)",
         "{'gate': {'lr': 0.1}}", "uniform", "scan", "tfds:cifar10", "tfds:", "/no/such/dir",
         "ünïcødé", "'日本'", "\U0001F600", "a\tb", "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]",
         "(" * 200, "x=y", "=", "lambda: 1", "__import__('os')"]
VALUES = st.one_of(st.sampled_from(TYPED), st.integers(-2**70, 2**70).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.text(max_size=12))
KEYS = st.sampled_from(sorted(rules.RULES) + ["techniques", "train.epoch", "optim",
                                               "optim.groups.gate", "", "seed.x"])
POSITIVE = {"train.epochs", "train.batch_size", "eval.batch_size", "eval.num_batches",
            "eval.num_archs", "data.resolution", "supernet.C", "supernet.N",
            "supernet.slots_per_cell", "train.keep_checkpoints", "search.budget",
            "search.population_size", "search.tournament_size", "parallel.num_processes"}


def _accepted_value_is_sane(config, key):
    """An independent check of an accepted value: the default's type, finite, in range."""
    default = schema._get(defaults.base_config(), key)
    value = schema._get(config, key)
    if key == "optim.clip" and value is None:
        return
    assert type(value) is type(default) or (
        isinstance(default, (tuple, dict)) or hasattr(default, "items")), (key, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        assert math.isfinite(value) and value >= 0, (key, value)
        assert value >= 1 or key not in POSITIVE, (key, value)
        assert value > 0 or key not in ("optim.lr",), (key, value)


@settings(max_examples=1000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(command=st.sampled_from(["train", "run"]),
       overrides=st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=2))
@example(command="train", overrides=[("train.epochs", "-3")])
@example(command="train", overrides=[("train.batch_size", "0")])
@example(command="run", overrides=[("search.budget", "0")])
def test_fuzzed_overrides_are_accepted_or_one_line(files, tmp_path, stubs, command, overrides):
    workdir = tmp_path / "W"
    before = _snapshot(tmp_path)
    stubs.clear()
    argv = [command, "--config", files / "tiny.py", "--workdir", workdir,
            *(f"{k}={v}" for k, v in overrides)]
    rc, _, err = _main(argv)
    event("accepted" if rc == 0 else "rejected")
    if rc == 2:
        assert_one_line_error(rc, err)
        assert _snapshot(tmp_path) == before
        assert not stubs
    else:
        assert rc == 0 and err == "", err
        (config,) = stubs
        for key, _ in overrides:
            if key in rules.RULES and not key.startswith("search."):
                _accepted_value_is_sane(config, key)


ARGS = {
    "train": {"--config": ["tiny.py", "scaled.py:mini", "scaled.py:huge", "tiny.py:mini",
                           "scaled.py:", "passwd", "missing.py", "no_get_config.py", "raises.py",
                           "returns_list.py", "syntax.py", "binary.py", "run", ""],
              "--workdir": ["W", "passwd", "", "W/deeper"],
              "--data": ["TINY", "tfds:cifar10", "tfds:", "", "/no/such/dir", "passwd"]},
    "evaluate": {"--workdir": ["run", "W", "passwd", "", "."],
                 "--archs": ["200", "all", "unique", "0", "-1", "1.5", "ALL", "", "2**31"],
                 "--seed": ["0", "7", "-1", "4294967296", "nan", "", "٣"],
                 "--gt": ["valid", "test", "train", "", "nb201-mini", "nb201-mini-seed1"],
                 "--protocol": ["default", "abs", "landmark", "dynas", "bogus", ""],
                 "--dataset": ["cifar10-valid", "CIFAR10-valid", "cifar10", "ImageNet16-120",
                               "imagenet", ""],
                 "--num-batches": ["1", "0", "-2", "x", "1e3"],
                 "--skip-batches": ["0", "3", "-1", "", "1.0"],
                 "--metric": ["accuracy", "angle", "", " ", "ünï"],
                 "--data": ["TINY", "tfds:", "/no/such/dir"],
                 "--out": ["out.json", "nodir/out.json", ".", ""]},
    "search": {"--workdir": ["run", "W", "passwd"],
               "--strategy": ["random", "evolution", "gdas", "bogus", ""],
               "--budget": ["10", "0", "-5", "1e9", "ten", "99999999999999999999"],
               "--seed": ["3", "-3", ""], "--population": ["5", "0", "-1"],
               "--tournament": ["2", "0", "nan"], "--num-batches": ["1", "0"],
               "--metric": ["accuracy", ""], "--data": ["TINY", "tfds:"],
               "--gt": ["nb201-mini", "nb201-mini-seed1", "valid", "", "passwd"],
               "--gt-split": ["valid", "test", "train"],
               "--out": ["out.json", "nodir/out.json", "."]},
}
REQUIRED = {"train": ["--config", "--workdir"], "evaluate": ["--workdir"], "search": ["--workdir"]}


def _arg_value(value, files, tmp_path, tiny_folder):
    """A drawn argument value as a path: names of `files` resolve there, outputs in tmp_path."""
    if value == "TINY":
        return str(tiny_folder)
    if value in ("W", "W/deeper", "out.json", "nodir/out.json"):
        return str(tmp_path / value)
    if value and (files / value).exists():
        return str(files / value)
    if value and (files / value.split(":")[0]).exists():  # file.py:arg
        return f"{files}/{value}"
    return value


@settings(max_examples=800, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), command=st.sampled_from(sorted(ARGS)))
def test_fuzzed_arguments_are_accepted_or_one_line(files, tmp_path, tiny_folder, stubs, data,
                                                   command):
    chosen = data.draw(st.dictionaries(st.sampled_from(sorted(ARGS[command])),
                                       st.one_of(st.sampled_from(["__pick__"]),
                                                 st.text(max_size=8)), max_size=3))
    argv = [command]
    for name in sorted(set(chosen) | set(REQUIRED[command])):
        value = chosen.get(name, "__pick__")
        if value == "__pick__":
            value = data.draw(st.sampled_from(ARGS[command][name]))
        argv += [name, _arg_value(value, files, tmp_path, tiny_folder)]
    before = _snapshot(tmp_path), _snapshot(files)
    stubs.clear()
    rc, _, err = _main(argv)
    event("accepted" if rc == 0 else "rejected")
    if rc == 2:
        assert_one_line_error(rc, err)
        assert (_snapshot(tmp_path), _snapshot(files)) == before
        assert not stubs
    else:
        assert rc == 0 and err == "", err
        assert len(stubs) == 1


def test_missing_and_unknown_arguments_are_one_line(stubs):
    for argv in ([], ["bogus"], ["train"], ["evaluate", "--bogus"], ["search", "--budget"]):
        rc, _, err = _main(argv)
        assert_one_line_error(rc, err, "--help")


# -- divergence --------------------------------------------------------------------------------

def _restored(workdir, step=None):
    """The train state of the run in `workdir` (its newest checkpoint, or `step`)."""
    from jaxnas.train import checkpoint, recipe as recipe_lib
    from jaxnas.train.open_run import load_config

    config = load_config(workdir)
    recipe = recipe_lib.from_config(config, data=False, steps_per_epoch=3)
    ckpt = checkpoint.Checkpointer(workdir, read_only=True)
    try:
        return ckpt.restore(recipe.init(), step=step)
    finally:
        ckpt.close()


def _finite(tree):
    return all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(tree)
               if np.issubdtype(np.asarray(x).dtype, np.floating))


DIVERGE = ["optim.lr=1e30", "optim.clip=None", "train.checkpoint_every_steps=1"]


def test_divergence_is_one_line_and_keeps_the_last_finite_checkpoint(files, tmp_path):
    from jaxnas.train import checkpoint

    workdir = tmp_path / "W"
    rc, out, err = _main(["train", "--config", files / "tiny.py", "--workdir", workdir,
                          "--no-progress", *DIVERGE])
    assert_one_line_error(rc, err, "diverged", "train.skip_nonfinite")
    assert out == ""
    import re
    bad, kept = map(int, re.search(r"at step (\d+); the newest checkpoint, step (\d+)",
                                   err).groups())
    steps = checkpoint.steps(workdir)
    assert steps[0] == kept == bad - 1  # a checkpoint every step: the one before it
    assert _finite(_restored(workdir).params)
    assert not (workdir / "metrics.jsonl").exists() or all(
        '"step": %d' % bad not in line for line in (workdir / "metrics.jsonl").open())


def test_divergence_is_not_saved_on_the_interrupt_path(files, tmp_path, monkeypatch):
    """Ctrl-C after a diverged step: the NaN state is not checkpointed (DivergenceError)."""
    from jaxnas.errors import DivergenceError
    from jaxnas.train import checkpoint, loop, step as step_lib

    make = step_lib.make_train_step

    def interrupted_at_step_2(*args, **kwargs):  # mid-epoch: no save or check was due yet
        fn = make(*args, **kwargs)

        def step(state, *rest):
            if int(state.step) == 2:
                raise KeyboardInterrupt
            return fn(state, *rest)
        return step

    monkeypatch.setattr(step_lib, "make_train_step", interrupted_at_step_2)
    config = config_lib.load_config(files / "tiny.py")
    config_lib.apply_overrides(config, ["optim.lr=1e30", "optim.clip=None"])
    with pytest.raises(DivergenceError, match="at step 2; no checkpoint was written"):
        loop.train(config, tmp_path / "W", progress=False)
    assert checkpoint.steps(tmp_path / "W") == []


def test_a_skipped_step_applies_no_update_and_compiles_once(files):
    from jaxnas.train import recipe as recipe_lib

    config = config_lib.load_config(files / "tiny.py")
    config_lib.apply_overrides(config, DIVERGE[:2] + ["train.skip_nonfinite=True"])
    recipe = recipe_lib.from_config(config)
    x, y = recipe.run.train_data
    state, step_args, _ = recipe.epoch_start(recipe.init(), 1)
    flags = []
    for _ in range(3):
        before = jax.device_get(state.params)  # the step donates the state
        state, metrics = recipe.train_step(state, x[:20], y[:20], step_args)
        flags.append(float(metrics["nonfinite"]))
        after = jax.device_get(state.params)
        same = all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(before),
                                                         jax.tree.leaves(after)))
        assert same == bool(flags[-1]) and _finite(after)
    assert flags[0] == 0.0 and 1.0 in flags and int(state.step) == 3
    assert recipe.train_step._cache_size() == 1


def test_skip_nonfinite_skips_the_steps_and_ends_finite(files, tmp_path):
    import json

    workdir = tmp_path / "W"
    rc, out, err = _main(["train", "--config", files / "tiny.py", "--workdir", workdir,
                          "--no-progress", *DIVERGE, "train.skip_nonfinite=True"])
    assert rc == 0, err
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").open()]
    assert len(records) == 2 and sum(r["skipped_steps"] for r in records) > 0
    state = _restored(workdir)
    assert int(state.step) == 6 and _finite(state.params)
