"""The `jaxnas` command line: thin wrappers around `jaxnas.train` and `jaxnas.evaluate`.

    jaxnas train --config configs/nb201_spos_mini.py --workdir W [--data SRC] [--resume] [k=v ...]
    jaxnas evaluate --workdir W [--archs N|all|unique] [--seed S] [--gt valid|test] [--metric M]
                    [--out FILE]

Bad input (config keys, architecture strings, data folders, checkpoints) ends with one line on
stderr and exit status 2; an interrupted run exits with 130 after saving a checkpoint.
"""

import argparse
import json
import sys

from jaxnas.errors import JaxnasError


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
    e.add_argument("--metric", default="accuracy",
                   help="scorer: accuracy (held-out images), or a data-free one such as angle "
                        "or magnitude")
    e.add_argument("--out", help="write the JSON report here (default: stdout)")
    return p


def _train(args):
    from jaxnas import config as config_lib
    from jaxnas.train import defaults, loop

    config = config_lib.load_config(args.config)
    defaults.check(config)
    # `techniques=...` first: the blocks of newly listed techniques exist for later overrides.
    first = [o for o in args.overrides if o.split("=", 1)[0].strip() == "techniques"]
    config_lib.apply_overrides(config, first)
    defaults.complete(config)
    if args.data:
        config_lib.apply_overrides(config, [f"data.source={args.data}"])
    config_lib.apply_overrides(config, [o for o in args.overrides if o not in first])
    record = loop.train(config, args.workdir, resume=args.resume, progress=not args.no_progress)
    print(json.dumps(record))


def _evaluate(args):
    from jaxnas.evaluate import run

    archs = int(args.archs) if args.archs.isdigit() else args.archs
    report = run.evaluate_workdir(args.workdir, archs=archs, seed=args.seed, gt=args.gt,
                                  data=args.data, num_batches=args.num_batches,
                                  metric=args.metric)
    text = json.dumps(report, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
        summary = {k: v for k, v in report.items() if not isinstance(v, list)}
        print(json.dumps(summary))
    else:
        print(text)


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        {"train": _train, "evaluate": _evaluate}[args.command](args)
    except JaxnasError as e:
        print(f"jaxnas: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxnas: interrupted; the latest state is checkpointed, continue with --resume",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
