"""The `jaxnas` command line: thin wrappers around `jaxnas.train` and `jaxnas.search`.

    jaxnas train --config configs/nb201_spos_mini.py --workdir W [--data SRC] [--resume] [k=v ...]
    jaxnas evaluate --workdir W [--archs N|all|unique] [--seed S] [--gt valid|test] [--metric M]
                    [--within-space] [--out FILE]
    jaxnas search --workdir W [--strategy random|evolution|gdas] [--budget N] [--metric M]
                  [--seed S] [--out FILE]
    jaxnas run --config C --workdir W [--data SRC] [k=v ...]   # train, evaluate, search

Bad input (config keys, architecture strings, data folders, checkpoints) ends with one line on
stderr and exit status 2; an interrupted run exits with 130 after saving a checkpoint.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from jaxnas.errors import JaxnasError
from jaxnas.train import workdir


def _parser():
    p = argparse.ArgumentParser(prog="jaxnas", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a supernet")
    t.add_argument("--config", required=True, help="Python config file with get_config()")
    t.add_argument("--workdir", required=True, help="output directory")
    t.add_argument("--data", help="image folder (train|test/<class>/*) or tfds:cifar10")
    t.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")

    e = sub.add_parser("evaluate", help="rank architectures with a trained supernet")
    e.add_argument("--workdir", required=True, help="directory of a `jaxnas train` run")
    e.add_argument("--archs", default="200",
                   help="N (a fixed seeded sample of N non-isomorphic cells), unique or all")
    e.add_argument("--seed", type=int, default=0, help="seed of the architecture sample")
    e.add_argument("--gt", choices=("valid", "test"), default="valid",
                   help="NB201 cifar10-valid ground truth: x-valid or ori-test accuracy")
    e.add_argument("--data", help="override the run's data source")
    e.add_argument("--num-batches", type=int, help="held-out batches scored per architecture")
    e.add_argument("--skip-batches", type=int, default=0,
                   help="score from this held-out batch on (a disjoint image subset; the "
                        "landmark regulariser uses the images after landmark.eval_reserve)")
    e.add_argument("--metric", default="accuracy",
                   help="scorer: accuracy (held-out images), or a data-free one such as angle "
                        "or magnitude")
    e.add_argument("--within-space", action="store_true",
                   help="draw the cells from the run's ABS-shrunk space (where its search looks)")
    e.add_argument("--out", help="write the JSON report here (default: stdout)")
    e.add_argument("--no-progress", action="store_true", help="no progress bars")

    s = sub.add_parser("search", help="search architectures with a trained supernet")
    s.add_argument("--workdir", required=True, help="directory of a `jaxnas train` run")
    s.add_argument("--strategy", choices=("random", "evolution", "gdas"),
                   help="random search, regularised evolution, or the cell of a GDAS run's "
                        "architecture logits (default: the run's search.strategy, evolution)")
    s.add_argument("--budget", type=_positive, help="cells scored (default 1000)")
    s.add_argument("--metric", help="scorer: accuracy (held-out images, default) or angle...")
    s.add_argument("--seed", type=int, help="seed of the strategy (default 0)")
    s.add_argument("--population", type=_positive, help="evolution: population size (50)")
    s.add_argument("--tournament", type=_positive, help="evolution: tournament size (10)")
    s.add_argument("--num-batches", type=_positive, help="held-out batches scored per cell")
    s.add_argument("--data", help="override the run's data source")
    s.add_argument("--out", help="result JSON (default W/search/<strategy>.json; plot beside)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")

    r = sub.add_parser("run", help="train, evaluate and search in one resumable command")
    r.add_argument("--config", required=True, help="Python config file with get_config()")
    r.add_argument("--workdir", required=True, help="output directory")
    r.add_argument("--data", help="image folder (train|test/<class>/*) or tfds:cifar10")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    return p


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _load_config(args):
    """The config file with the command line's data source and overrides applied."""
    from jaxnas import config as config_lib
    from jaxnas.train import defaults

    config = config_lib.load_config(args.config)
    defaults.check(config)
    data = [f"data.source={args.data}"] if args.data else []
    defaults.override(config, data + list(args.overrides))
    return config


def _train(args):
    from jaxnas.train import loop

    config = _load_config(args)
    workdir.install_quiet_logging(args.workdir)  # for the whole process: late library noise too
    record = loop.train(config, args.workdir, resume=args.resume, progress=not args.no_progress)
    print(json.dumps(record))


def _evaluate(args):
    from jaxnas.train.evaluation import evaluate_workdir

    workdir.install_quiet_logging(args.workdir)

    archs = int(args.archs) if args.archs.isdigit() else args.archs
    report = evaluate_workdir(args.workdir, archs=archs, seed=args.seed, gt=args.gt,
                                  data=args.data, num_batches=args.num_batches,
                                  skip_batches=args.skip_batches, metric=args.metric,
                                  within_space=args.within_space,
                                  progress=not args.no_progress)
    text = json.dumps(report, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
        summary = {k: v for k, v in report.items() if not isinstance(v, list)}
        print(json.dumps(summary))
    else:
        print(text)


def _summary(report):
    """A search result's headline: the found cell and its ground truth."""
    found = report["found"]
    return {"strategy": report["strategy"], "metric": report.get("metric"),
            "score": report.get("score"), "arch": found["arch"], "index": found["index"],
            "valid_acc": found["valid_acc"], "test_acc": found["test_acc"],
            "rank_valid": found["rank_valid"], "rank_test": found["rank_test"]}


def _search(args):
    from jaxnas.search.workdir import search_workdir

    if not (Path(args.workdir) / "config.json").is_file():
        from jaxnas.errors import CheckpointError
        raise CheckpointError(f"{args.workdir} is not a jaxnas run directory (no config.json)")
    workdir.install_quiet_logging(args.workdir)
    report = search_workdir(args.workdir, strategy=args.strategy, budget=args.budget,
                            metric=args.metric, seed=args.seed, population_size=args.population,
                            tournament_size=args.tournament, num_batches=args.num_batches,
                            data=args.data, out=args.out, progress=not args.no_progress)
    print(json.dumps(_summary(report)))


def _run(args):
    from jaxnas.search import pipeline

    config = _load_config(args)
    workdir.install_quiet_logging(args.workdir)
    summary = pipeline.run(config, args.workdir, progress=not args.no_progress)
    print(json.dumps(summary))


def main(argv=None):
    args = _parser().parse_args(argv)
    if getattr(args, "no_progress", False):
        os.environ["TQDM_DISABLE"] = "1"   # every bar, data decoding's too (tqdm reads it)
    try:
        {"train": _train, "evaluate": _evaluate, "search": _search,
         "run": _run}[args.command](args)
    except JaxnasError as e:
        print(f"jaxnas: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        again = {"run": "saved; run the same command again to continue",
                 "search": "saved (scores so far are cached); run it again to continue"}
        print(f"jaxnas: interrupted; the latest state is "
              f"{again.get(args.command, 'checkpointed, continue with --resume')}",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
