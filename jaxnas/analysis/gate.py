"""How a trained CLOSE supernet's GATE assigns GLOW blocks: does the assignment depend on the cell?

`usage(workdir)`, for the final checkpoint of a run and the cells of its in-training evaluation:
the block histogram over (cell, edge) in evaluation mode with the reference's Gumbel noise and
without it (argmax), the number of distinct assignments, the spread of the GATE's logits across
cells (if it is far below the Gumbel noise, std 1.28, the assignment is noise), and the size of
the flow-GCN node embeddings the MLP reads, at initialisation and after training.

Whether similar cells share parameters (the paper's premise), before (the run's initial GATE)
and after training, both with and without evaluation noise (`sharing_by_distance`): over all
pairs of a uniform sample of cells, the fraction of the edges on which both cells run the same
convolution (the only edges with parameters) where they also read the same block, by the pair's
Hamming distance (1..5), beside its chance level (blocks drawn independently per edge with the
same frequencies). The premise holds if the fraction falls with the distance and lies above
chance at small distances. The GATE's assignment does not depend on the data: none is loaded.
"""

import jax
import numpy as np

from jaxnas import config as config_lib
from jaxnas.evaluate import scoring
from jaxnas.spaces.nb201 import NUM_OPS, all_archs
from jaxnas.techniques.close.gate import gate_logits, node_embeddings
from jaxnas.techniques.close.technique import gate_config
from jaxnas.train import open_run as run
from jaxnas.train import recipe as recipe_lib

CONV_OPS = (2, 3)  # nor_conv_1x1, nor_conv_3x3: the ops whose parameters live in the blocks


def blocks(recipe, params, archs, k_max, epoch):
    """`[n, 6]` block of every edge of cell 0 as the scoring of `recipe` assigns them."""
    _, sharing = recipe.subnet(params, archs, epoch)
    return np.asarray(sharing)[:, 0, :, 0] % k_max  # every op of an edge reads the same block


def gate_stats(gate_params, archs, g):
    logits = np.asarray(jax.vmap(lambda a: gate_logits(gate_params, a, g, train=False))(archs))
    emb = np.asarray(jax.vmap(lambda a: node_embeddings(gate_params, a, g))(archs))
    return dict(logit_std_across_cells=float(logits.std(0).mean()),
                logit_spread_median=float(np.median(logits.max(-1) - logits.min(-1))),
                node_embedding_mean_abs=float(np.abs(emb).mean()),
                node_embedding_std_across_cells=float(emb.std(0).mean()))


def sharing_by_distance(archs, assigned, k_max):
    """Per Hamming distance d = 1..5 over all pairs of `archs` (int `[n, 6]`) with at least one
    edge running the same convolution: `pairs`, `shared` (mean fraction of those edges that read
    the same block in both cells, `assigned` int `[n, 6]`) and `chance` (the same for blocks drawn
    independently per edge from the observed block frequencies of the conv edges)."""
    archs, assigned = np.asarray(archs), np.asarray(assigned)
    conv = np.isin(archs, CONV_OPS)
    freq = np.stack([np.bincount(assigned[conv[:, e], e], minlength=k_max) for e in range(6)])
    agree = (freq / np.maximum(freq.sum(1, keepdims=True), 1)) ** 2  # [6, k_max]
    agree = agree.sum(1)  # chance that two independent cells pick the same block on edge e
    same_op = archs[:, None] == archs[None]
    common = same_op & conv[None]  # [n, n, 6]: the same convolution in both cells
    n_common = common.sum(-1)
    shared = (common & (assigned[:, None] == assigned[None])).sum(-1) / np.maximum(n_common, 1)
    chance = (common * agree).sum(-1) / np.maximum(n_common, 1)
    distance = 6 - same_op.sum(-1)
    upper = np.triu(np.ones(distance.shape, bool), 1) & (n_common > 0)
    out = {}
    for d in range(1, 6):
        pick = upper & (distance == d)
        out[str(d)] = dict(pairs=int(pick.sum()),
                           shared=round(float(shared[pick].mean()), 4) if pick.any() else None,
                           chance=round(float(chance[pick].mean()), 4) if pick.any() else None)
    return out


def assignment_stats(recipes, params, archs, pair_archs, k, epoch):
    """(histogram and distinct assignments of `archs`, sharing by distance over `pair_archs`),
    each keyed by mode: with the evaluation noise and argmax."""
    counts, by_distance = {}, {}
    for mode, recipe in recipes.items():
        assigned = blocks(recipe, params, archs, k, epoch)
        counts[f"blocks_{mode}"] = np.bincount(assigned.ravel(), minlength=k).tolist()
        counts[f"distinct_assignments_{mode}"] = len({tuple(r) for r in assigned})
        by_distance[mode] = sharing_by_distance(
            pair_archs, blocks(recipe, params, pair_archs, k, epoch), k)
    return counts, by_distance


def usage(workdir, num_archs=200, num_pair_archs=2000):
    """The numbers of the module docstring for the CLOSE run in `workdir` (final checkpoint)."""
    config = run.load_config(workdir)
    k = config.close.k_max
    spe = run.run_info(workdir).get("steps_per_epoch", 1)
    recipes = {}
    for mode, noise in (("with_noise", True), ("argmax", False)):
        c = config_lib.from_json(config_lib.to_json(config))
        config_lib.apply_overrides(c, [f"close.eval_noise={noise}"])
        recipes[mode] = recipe_lib.from_config(c, data=False, steps_per_epoch=spe,
                                               workdir=workdir)
    base = recipe_lib.from_config(config, data=False, steps_per_epoch=spe, workdir=workdir)
    fresh = base.init().params  # the run's initial parameters
    state = run.restore_latest(workdir, base)
    epoch = config.train.epochs
    archs = all_archs()[scoring.evaluation_archs(num_archs, seed=config.eval.seed)]
    pair_archs = np.random.default_rng(0).integers(0, NUM_OPS, (num_pair_archs, 6)).astype(np.int32)
    trained, trained_pairs = assignment_stats(recipes, state.params, archs, pair_archs, k, epoch)
    at_init, init_pairs = assignment_stats(recipes, fresh, archs, pair_archs, k, epoch)
    g = gate_config(config.close)
    return dict(
        workdir=str(workdir), cells=len(archs), gate_variant=config.close.gate_variant,
        **trained,
        gate_at_init=gate_stats(fresh["gate"], archs, g),
        gate_trained=gate_stats(state.params["gate"], archs, g),
        last_layer_bias=np.asarray(state.params["gate"]["mlp"][-1]["b"]).round(4).tolist(),
        assignments_at_init=at_init,
        pair_cells=num_pair_archs,
        sharing_by_distance=dict(trained=trained_pairs, init=init_pairs))
