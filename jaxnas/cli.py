"""The `jaxnas` command line: thin wrappers around `jaxnas.train` and `jaxnas.search`.

    jaxnas train --config configs/nb201_spos.py:mini --workdir W [--data SRC] [--resume] [k=v ...]
    jaxnas evaluate --workdir W [--protocol P] [--archs N|all|unique] [--seed S]
                    [--gt valid|test|nb201-mini|TABLE.csv] [--gt-split valid|test]
                    [--dataset D]
                    [--metric M] [--within-space] [--out FILE]
    jaxnas search --workdir W [--strategy random|evolution|gdas] [--budget N] [--metric M]
                  [--seed S] [--gt nb201-mini|TABLE.csv] [--gt-split valid|test] [--out FILE]
    jaxnas run --config C --workdir W [--data SRC] [k=v ...]   # train, evaluate, search
    jaxnas standalone --config C --workdir W [--data SRC] [--archs N|FILE] [--k K] [--resume]
                      [k=v ...]   # train cells stand-alone, K at once: a ground-truth table
    jaxnas final --config C --workdir W (--arch GENOTYPE | --arch-file FILE) [--data SRC]
                 [--resume] [k=v ...]   # train a DARTS genotype as DARTS evaluates: test acc
    jaxnas compare ARM... --base ARM [--gt nb201-mini|TABLE.csv] [--out FILE] [--plot FILE]
                                                               # paired by seed, 95% CI
    jaxnas nb201 query INDEX|ARCH [--dataset D] [--naslib]     # the shipped NB201 table

Bad input (arguments, config keys and values, architecture strings, data folders, checkpoints)
ends with one line on stderr and exit status 2, before anything is built or written; so does a
run whose training diverges (a NaN or infinite loss). An interrupted run exits with 130 after
saving a checkpoint.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from jaxnas import schema
from jaxnas.config import split_arg
from jaxnas.errors import CheckpointError, GroundTruthError, JaxnasError, UsageError
from jaxnas.train import workdir

# Each command imports the layers it runs (jax, flax, the trainers) inside its function, not
# here: `jaxnas --help` and a bad argument answer in about 0.2 s instead of the 6 s those
# imports take on a 2-core CPU.


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are a UsageError (one line, exit 2), not usage text."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def _parser():
    p = _Parser(prog="jaxnas", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    _run_tail(_run_head(sub, "train", "train a supernet"),
              resume="continue from the latest checkpoint")

    e = sub.add_parser("evaluate", help="rank architectures with a trained supernet")
    e.add_argument("--workdir", required=True, type=_run_dir,
                   help="directory of a `jaxnas train` run")
    e.add_argument("--protocol", default="default", type=_protocol,
                   help="a paper's cells, ground truth and metrics: default, landmark, abs, "
                        "fewshot, close or dynas (jaxnas/evaluate/protocols.py)")
    e.add_argument("--archs", type=_archs,
                   help="default protocol: N (a fixed seeded sample of N non-isomorphic cells, "
                        "200), unique or all")
    e.add_argument("--seed", type=_seed, default=0, help="seed of the architecture sample")
    e.add_argument("--gt", type=_gt,
                   help="NB201 cifar10-valid ground truth: x-valid (valid) or ori-test (test) "
                        "accuracy (default: the protocol's; valid for default, test for the "
                        "papers'); a `jaxnas standalone` table (CSV): its cells are ranked "
                        "against it; or a shipped one, nb201-mini (the mini scale's stand-alone "
                        "table) or nb201-mini-seed1")
    e.add_argument("--gt-split", choices=("valid", "test"), default="valid",
                   help="with a table as --gt: its held-out (valid) or test accuracy")
    e.add_argument("--dataset", default="cifar10-valid", type=_dataset,
                   help="NB201 table (nas_201_api name); only cifar10-valid ships")
    e.add_argument("--data", type=_data, help="override the run's data source")
    e.add_argument("--num-batches", type=_positive, help="held-out batches scored per architecture")
    e.add_argument("--skip-batches", type=_count, default=0,
                   help="score from this held-out batch on (a disjoint image subset; the "
                        "landmark regulariser uses the images after landmark.eval_reserve)")
    e.add_argument("--metric", default="accuracy", type=_name,
                   help="scorer: accuracy (held-out images), or a data-free one such as angle "
                        "or magnitude")
    e.add_argument("--within-space", action="store_true",
                   help="draw the cells from the run's ABS-shrunk space (where its search looks)")
    e.add_argument("--out", type=_out, help="write the JSON report here (default: stdout)")
    e.add_argument("--no-progress", action="store_true", help="no progress bars")

    s = sub.add_parser("search", help="search architectures with a trained supernet")
    s.add_argument("--workdir", required=True, type=_run_dir,
                   help="directory of a `jaxnas train` run")
    s.add_argument("--strategy", choices=("random", "evolution", "gdas"),
                   help="random search, regularised evolution, or the cell of a GDAS run's "
                        "architecture logits (default: the run's search.strategy, evolution)")
    s.add_argument("--budget", type=_positive, help="cells scored (default 1000)")
    s.add_argument("--metric", type=_name,
                   help="scorer: accuracy (held-out images, default) or angle...")
    s.add_argument("--seed", type=_seed, help="seed of the strategy (default 0)")
    s.add_argument("--population", type=_positive, help="evolution: population size (50)")
    s.add_argument("--tournament", type=_positive, help="evolution: tournament size (10)")
    s.add_argument("--num-batches", type=_positive, help="held-out batches scored per cell")
    s.add_argument("--data", type=_data, help="override the run's data source")
    s.add_argument("--gt", type=_table,
                   help="judge the found cell and the trajectory by a stand-alone table of the "
                        "run's space: a `jaxnas standalone` CSV (NB201 or DARTS) or nb201-mini")
    s.add_argument("--gt-split", choices=("valid", "test"), default="valid",
                   help="with --gt: the table's held-out (valid) or test accuracy")
    s.add_argument("--out", type=_out,
                   help="result JSON (default W/search/<strategy>.json; plot beside)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")

    _run_tail(_run_head(sub, "run", "train, evaluate and search in one resumable command"))

    c = sub.add_parser("compare", help="compare arms with a base arm, paired by seed")
    c.add_argument("arms", nargs="+", type=_folder,
                   help="an arm: a folder of seed<S>.final.json (experiments/run_paired.sh) "
                        "or a folder of seed run directories (their evaluate.json)")
    c.add_argument("--base", required=True, type=_folder, help="the arm to compare against")
    c.add_argument("--out", type=_out, help="write the JSON report here (markdown beside, .md)")
    c.add_argument("--plot", type=_out, help="per-seed Kendall's tau, base to arm (png)")
    c.add_argument("--epochs-plot", type=_out,
                   help="the arms' in-training Kendall's tau, sparse tau and P@top-5%% over "
                        "epochs, per seed and mean (png, from the metrics logs; all "
                        "ranked against one truth: NB201's or one eval.table)")
    c.add_argument("--within-space", action="store_true",
                   help="only the cells of the space each arm's run ended in (ABS shrinking)")
    c.add_argument("--report", default="evaluate.json", type=_name,
                   help="the evaluation file of each run directory, e.g. the --out of a "
                        "`jaxnas evaluate --protocol abs` (default evaluate.json)")
    c.add_argument("--common-seeds", action="store_true",
                   help="pair the seeds both arms have instead of refusing different seeds")
    c.add_argument("--gt", type=_table,
                   help="rank the NB201 reports' stored scores against a stand-alone table "
                        "instead, on its cells: nb201-mini, nb201-mini-seed1 or TABLE.csv")
    c.add_argument("--gt-split", choices=("valid", "test"), default="valid",
                   help="with --gt: the table's held-out (valid) or test accuracy")

    n = sub.add_parser("nb201", help="NAS-Bench-201 lookups in the shipped table")
    nsub = n.add_subparsers(dest="nb201_command", required=True)
    q = nsub.add_parser("query", help="one cell's benchmark numbers and ranks")
    q.add_argument("cell", help="official index (0..15624), NB201 string |op~0|+|op~0|op~1|+..., "
                                "or with --naslib NASLib's six op indices, e.g. 2,2,0,4,2,0")
    q.add_argument("--dataset", default="cifar10-valid", type=_dataset,
                   help="nas_201_api name: cifar10-valid (shipped), cifar10, cifar100, "
                        "ImageNet16-120")
    q.add_argument("--naslib", action="store_true",
                   help="read the cell as NASLib's op indices (its op and edge order)")

    a = _run_head(sub, "standalone", "train cells stand-alone, K at once: a ground-truth table "
                  "(CSV)", "stand-alone config, e.g. configs/standalone.py:mini")
    a.add_argument("--archs", type=_cells,
                   help="N (seeded non-isomorphic cells; NB201: the 200 fixed evaluation cells "
                        "first) or a file of architecture strings or indices, one per line")
    a.add_argument("--k", type=_count, help="networks trained at once (0: from free memory)")
    _run_tail(a, resume="continue: finished cells from the table, the rest from checkpoints")

    f = _run_head(sub, "final", "train a DARTS genotype from scratch as DARTS evaluates it; "
                  "ends with its test accuracy",
                  "DARTS final-training config, e.g. configs/darts_final.py:mini")
    which = f.add_mutually_exclusive_group(required=True)
    which.add_argument("--arch", help="the genotype: Genotype(normal=[('sep_conv_3x3', 0), ...], "
                                      "normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat="
                                      "[2, 3, 4, 5]), or a name: DARTS_V1, DARTS_V2")
    which.add_argument("--arch-file",
                       help="a file with one Genotype(...) line, or a `jaxnas search` result "
                            "JSON (its found.arch)")
    _run_tail(f, resume="continue from the latest checkpoint")
    return p


def _run_head(sub, name, help, config_help="Python config file with get_config(), optionally "
              "FILE.py:ARG (get_config(ARG), e.g. configs/nb201_spos.py:mini)"):
    """A subcommand that runs a config into a workdir: its `--config` and `--workdir`."""
    p = sub.add_parser(name, help=help)
    p.add_argument("--config", required=True, type=_config_file, help=config_help)
    p.add_argument("--workdir", required=True, type=_workdir, help="output directory")
    return p


def _run_tail(p, resume=None):
    """The rest of such a subcommand: `--data`, `--resume` (with its help, when given),
    `--no-progress` and the key=value overrides."""
    p.add_argument("--data", type=_data,
                   help="image folder (train|test/<class>/*) or tfds:cifar10")
    if resume:
        p.add_argument("--resume", action="store_true", help=resume)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")


# -- argument types: each returns the parsed value or raises a one-line ArgumentTypeError that
# names the value and what is allowed (argparse adds the argument's name) --------------------

def _integer(text, low, high, allowed):
    try:
        value = int(text, 10)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected {allowed}, got {schema.show(text)}")
    return value


def _positive(text):
    """An integer >= 1 (budgets, sizes, batch counts)."""
    return _integer(text, 1, schema.INT_MAX, f"an integer in [1, {schema.INT_MAX}]")


def _count(text):
    """An integer >= 0 (batches to skip)."""
    return _integer(text, 0, schema.INT_MAX, f"an integer in [0, {schema.INT_MAX}]")


def _seed(text):
    """A seed in [0, 2**32 - 1]."""
    return _integer(text, 0, schema.SEED_MAX, f"an integer in [0, {schema.SEED_MAX}]")


def _archs(text):
    """N (a positive integer), "unique" or "all"."""
    if text in ("unique", "all"):
        return text
    return _integer(text, 1, schema.INT_MAX, "a positive integer, unique or all")


def _gt(text):
    """valid, test, a shipped stand-alone table's name, or an existing table file."""
    from jaxnas.evaluate.groundtruth import MINI_TABLES, names_table

    if text in ("valid", "test") or names_table(text):
        return text
    raise argparse.ArgumentTypeError(f"expected valid, test, {', '.join(MINI_TABLES)} or an "
                                     f"existing ground-truth table (CSV), got {schema.show(text)}")


def _table(text):
    """A shipped stand-alone table's name or an existing table file."""
    if text in ("valid", "test"):
        raise argparse.ArgumentTypeError("expected a stand-alone table (nb201-mini or "
                                         "TABLE.csv); the reports' own NB201 column is the "
                                         "default")
    return _gt(text)


def _cells(text):
    """N (a positive integer) or an existing file of cells."""
    if text.isdigit():
        return _positive(text)
    if schema.path_exists("file").ok(text):
        return text
    raise argparse.ArgumentTypeError(f"expected a number of cells or an existing file of "
                                     f"architectures, got {schema.show(text)}")


def _name(text):
    """A non-empty name (a scorer)."""
    if not text.strip() or "\n" in text:
        raise argparse.ArgumentTypeError(f"expected a name such as accuracy or angle, got "
                                         f"{schema.show(text)}")
    return text


def _protocol(text):
    """A protocol name of `jaxnas.evaluate.protocols`."""
    from jaxnas.evaluate.protocols import PROTOCOLS

    if text not in PROTOCOLS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(PROTOCOLS)}, got "
                                         f"{schema.show(text)}")
    return text


def _dataset(text):
    """A nas_201_api dataset name whose table jaxnas ships (the error says what ships)."""
    from jaxnas.evaluate.groundtruth import check_shipped

    try:
        return check_shipped(text)
    except GroundTruthError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _config_file(text):
    """An existing Python file, optionally naming its argument (`file.py:mini`); get_config() is
    checked when it is loaded."""
    path, arg = split_arg(text)
    if arg is not None and not arg.strip():
        raise argparse.ArgumentTypeError(f"expected FILE.py or FILE.py:ARG with a non-empty ARG, "
                                         f"got {schema.show(text)}")
    if not schema.path_exists("file").ok(str(path)):
        raise argparse.ArgumentTypeError(f"expected an existing Python config file, got "
                                         f"{schema.show(text)}")
    if path.suffix != ".py":
        raise argparse.ArgumentTypeError(f"expected a Python config file (.py) with "
                                         f"get_config(), got {schema.show(text)}")
    return text


def _workdir(text):
    """An output directory: a new one or an existing folder, not a file."""
    try:
        is_file = text.strip() != "" and Path(text).exists() and not Path(text).is_dir()
    except (OSError, ValueError):
        is_file = True
    if not text.strip() or is_file:
        raise argparse.ArgumentTypeError(f"expected a directory (new or existing), got "
                                         f"{schema.show(text)}")
    return text


def _run_dir(text):
    """The directory of a `jaxnas train` run: an existing folder holding config.json."""
    if not schema.path_exists("file").ok(os.path.join(text, "config.json")):
        raise argparse.ArgumentTypeError(f"expected the directory of a jaxnas run (holding "
                                         f"config.json), got {schema.show(text)}")
    return text


def _folder(text):
    """An existing folder."""
    if not text.strip() or not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"expected an existing folder, got {schema.show(text)}")
    return text


def _data(text):
    """A data source: an existing image folder or tfds:<name>."""
    rule = schema.data_source()
    if not rule.ok(text):
        raise argparse.ArgumentTypeError(f"expected {rule.allowed}, got {schema.show(text)}")
    return text


def _out(text):
    """A file to write: its folder exists and it is not a folder itself."""
    try:
        ok = text.strip() != "" and not Path(text).is_dir() and (
            Path(text).resolve().parent.is_dir())
    except (OSError, ValueError, RuntimeError):
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"expected a file path in an existing folder, got "
                                         f"{schema.show(text)}")
    return text


def _load_config(args):
    """The config file with the command line's data source and overrides applied."""
    from jaxnas import config as config_lib
    from jaxnas.train import defaults

    config = config_lib.load_config(args.config)
    if config.get("kind") == "standalone":
        raise UsageError(f"{args.config} is a stand-alone config: run it with jaxnas standalone")
    defaults.check(config, values=False)  # the keys; the values once overrides are applied
    data = [f"data.source={args.data}"] if args.data else []
    defaults.override(config, data + list(args.overrides))
    defaults.check(config)
    return config


def _stored_space(run_dir):
    """`space` of a stored run's config.json (None if unreadable: the usual checks report it)."""
    try:
        return json.loads((Path(run_dir) / "config.json").read_text()).get("space")
    except (OSError, ValueError, AttributeError):
        return None


def _train(args):
    from jaxnas.train import loop

    config = _load_config(args)
    workdir.install_quiet_logging(args.workdir)  # for the whole process: late library noise too
    record = loop.train(config, args.workdir, resume=args.resume, progress=not args.no_progress)
    print(json.dumps(record))


def _evaluate(args):
    from jaxnas import spaces
    from jaxnas.evaluate.groundtruth import space_table
    from jaxnas.train.evaluation import evaluate_workdir

    space = _stored_space(args.workdir)
    if args.archs is not None and args.protocol != "default":
        raise UsageError(f"--archs chooses the default protocol's cells; protocol "
                         f"{args.protocol} has its own")
    table, gt = None, args.gt
    if space == "darts" and (gt in (None, "valid", "test") or args.protocol != "default"):
        raise UsageError("no ground truth ships for the DARTS space: rank a DARTS run against "
                         "a table of genotypes you trained, --gt TABLE.csv (default protocol)")
    if gt not in (None, "valid", "test"):  # a bad table fails here, first
        table, gt = space_table(gt, spaces.get(space or "nb201")), args.gt_split
    workdir.install_quiet_logging(args.workdir)

    report = evaluate_workdir(args.workdir, archs=args.archs or 200, seed=args.seed, gt=gt,
                              data=args.data, num_batches=args.num_batches,
                              skip_batches=args.skip_batches, metric=args.metric,
                              within_space=args.within_space, progress=not args.no_progress,
                              protocol=args.protocol, dataset=args.dataset, table=table)

    text = json.dumps(report, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
        summary = {k: v for k, v in report.items() if not isinstance(v, list)}
        print(json.dumps(summary))
    else:
        print(text)


def _standalone(args):
    from jaxnas import config as config_lib
    from jaxnas.train import standalone, standalone_config

    config = config_lib.load_config(args.config)
    standalone_config.check(config, values=False)
    extra = [f"data.source={args.data}"] if args.data else []
    if isinstance(args.archs, int):
        extra.append(f"archs.num={args.archs}")
    elif args.archs:
        extra.append(f"archs.file={os.path.abspath(args.archs)}")
    if args.k is not None:
        extra.append(f"train.k={args.k}")
    standalone_config.override(config, extra + list(args.overrides))
    standalone_config.check(config)
    workdir.install_quiet_logging(args.workdir)
    summary = standalone.train(config, args.workdir, resume=args.resume,
                               progress=not args.no_progress)
    print(json.dumps(summary))


def _final(args):
    from jaxnas import config as config_lib
    from jaxnas.spaces import darts
    from jaxnas.train import final, standalone_config

    config = config_lib.load_config(args.config)
    standalone_config.check(config, values=False)
    if args.arch is None:
        arch = final.read_genotype(args.arch_file)
    elif os.path.isfile(args.arch):
        raise UsageError(f"--arch takes Genotype text or a name; {args.arch!r} is a file: "
                         f"--arch-file {args.arch}")
    else:
        arch = darts.str_to_arch(darts.GENOTYPES.get(args.arch, args.arch))
    extra = [f"data.source={args.data}"] if args.data else []
    standalone_config.override(config, extra + list(args.overrides))
    standalone_config.check(config)
    workdir.install_quiet_logging(args.workdir)
    row = final.final(config, args.workdir, arch, resume=args.resume,
                      progress=not args.no_progress)
    print(f"test accuracy {row['test_acc']:.2f}% ({row['arch']}; {row['params'] * 1e6:,.0f} "
          f"params, {row['epochs']} epochs, {row['scale']}, seed {row['seed']}; "
          f"{args.workdir}/table.csv)")


def _search(args):
    from jaxnas import spaces
    from jaxnas.evaluate.groundtruth import space_table
    from jaxnas.search import result
    from jaxnas.search.workdir import search_workdir

    if not (Path(args.workdir) / "config.json").is_file():
        raise CheckpointError(f"{args.workdir} is not a jaxnas run directory (no config.json)")
    table = (None if args.gt is None  # a bad table fails here, first
             else space_table(args.gt, spaces.get(_stored_space(args.workdir) or "nb201")))
    workdir.install_quiet_logging(args.workdir)
    report = search_workdir(args.workdir, strategy=args.strategy, budget=args.budget,
                            metric=args.metric, seed=args.seed, population_size=args.population,
                            tournament_size=args.tournament, num_batches=args.num_batches,
                            data=args.data, out=args.out, progress=not args.no_progress,
                            table=table, gt_split=args.gt_split)
    print(json.dumps(result.headline(report)))


def _run(args):
    from jaxnas.search import pipeline

    config = _load_config(args)
    workdir.install_quiet_logging(args.workdir)
    summary = pipeline.run(config, args.workdir, progress=not args.no_progress)
    print(pipeline.format_summary(summary))


def _compare(args):
    from jaxnas.analysis import compare
    from jaxnas.evaluate.groundtruth import standalone_table

    gt = None if args.gt is None else standalone_table(args.gt)
    report = compare.compare(args.base, args.arms, common_seeds=args.common_seeds,
                             within_space=args.within_space, report=args.report, gt=gt,
                             gt_split=args.gt_split)
    text = compare.markdown(report)
    print(text)
    if args.out:
        out = Path(args.out)
        out.write_text(json.dumps(report, indent=1) + "\n")
        out.with_suffix(".md").write_text(text + "\n")
    if args.plot:
        compare.plot(report, args.plot)
    if args.epochs_plot:
        compare.epochs_plot(args.base, args.arms, args.epochs_plot, report=args.report)


def _nb201(args):
    from jaxnas.evaluate.benchmark import query

    print(json.dumps(query(args.cell, args.dataset, naslib=args.naslib), indent=1))


def _fail(error):
    """Print `error` as one line on stderr; the exit status of bad input."""
    print("jaxnas: error: " + " ".join(str(error).splitlines()), file=sys.stderr)
    return 2


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--no-progress" in argv:  # before parsing: a refused argument silences the bars too
        os.environ["TQDM_DISABLE"] = "1"   # every bar, data decoding's too (tqdm reads it)
    try:
        args = _parser().parse_args(argv)
    except JaxnasError as e:
        return _fail(e)
    try:
        {"train": _train, "evaluate": _evaluate, "search": _search, "run": _run,
         "standalone": _standalone, "final": _final, "compare": _compare,
         "nb201": _nb201}[args.command](args)
    except JaxnasError as e:
        return _fail(e)
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
