"""How a trained CLOSE supernet's GATE assigns GLOW blocks: does the assignment depend on the cell?

    python experiments/gate_usage.py /tmp/runs/close_mini/seed0 [...] --out experiments/results/close_mini/gate_usage.json

For the final checkpoint of each run and the 200 cells of the in-training evaluation it reports:
the block histogram over (cell, edge) in evaluation mode with the reference's Gumbel noise and
without it (argmax), the number of distinct assignments, the spread of the GATE's logits across
cells (if it is far below the Gumbel noise, std 1.28, the assignment is noise), and the size of
the flow-GCN node embeddings the MLP reads, at initialisation and after training.
"""

import argparse
import json
from pathlib import Path

import jax
import numpy as np

from jaxnas.close.gate import gate_logits, node_embeddings
from jaxnas.close.method import gate_config
from jaxnas.evaluate import run, scoring
from jaxnas.spaces.nb201 import all_archs
from jaxnas.train import method as method_lib


def blocks(method, params, archs, k_max, epoch):
    """`[n, 6]` block of every edge of cell 0 as the scoring of `method` assigns them."""
    _, sharing = method.scoring(params, archs, epoch)
    return np.asarray(sharing)[:, 0, :, 0] % k_max  # every op of an edge reads the same block


def gate_stats(gate_params, archs, g):
    logits = np.asarray(jax.vmap(lambda a: gate_logits(gate_params, a, g, train=False))(archs))
    emb = np.asarray(jax.vmap(lambda a: node_embeddings(gate_params, a, g))(archs))
    return dict(logit_std_across_cells=float(logits.std(0).mean()),
                logit_spread_median=float(np.median(logits.max(-1) - logits.min(-1))),
                node_embedding_mean_abs=float(np.abs(emb).mean()),
                node_embedding_std_across_cells=float(emb.std(0).mean()))


def usage(workdir, num_archs):
    config = run.load_run_config(workdir)
    k = config.close.k_max
    method = method_lib.build(config, 1)
    fresh = method.init(jax.random.key(config.seed))  # the run's initial parameters
    state = run.restore_latest(workdir, config, method, fresh)
    epoch = config.train.epochs
    archs = all_archs()[scoring.evaluation_archs(num_archs, seed=config.eval.seed)]
    noisy = blocks(method, state.params, archs, k, epoch)
    config.unlock()
    config.close.eval_noise = False
    argmax = blocks(method_lib.build(config, 1), state.params, archs, k, epoch)
    g = gate_config(config.close)
    return dict(
        workdir=str(workdir), cells=len(archs),
        blocks_with_noise=np.bincount(noisy.ravel(), minlength=k).tolist(),
        blocks_argmax=np.bincount(argmax.ravel(), minlength=k).tolist(),
        distinct_assignments_with_noise=len({tuple(r) for r in noisy}),
        distinct_assignments_argmax=len({tuple(r) for r in argmax}),
        gate_at_init=gate_stats(fresh["gate"], archs, g),
        gate_trained=gate_stats(state.params["gate"], archs, g),
        last_layer_bias=np.asarray(state.params["gate"]["mlp"][-1]["b"]).round(4).tolist())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workdirs", nargs="+", type=Path, help="`jaxnas train` runs of method close")
    p.add_argument("--num-archs", type=int, default=200)
    p.add_argument("--out", help="also write the results as JSON here")
    args = p.parse_args()
    results = [usage(w, args.num_archs) for w in args.workdirs]
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
