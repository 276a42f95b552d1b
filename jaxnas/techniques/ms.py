"""Technique "ms": momentum separation (DYNAS, CVPR 2025), config block `ms`.

Replaces the base optimizer's "momentum" part with `separated_trace`
(`jaxnas.optim.momentum_separation`): one momentum buffer per group of subnets, a step updating
only its group's. The group is computed inside the jitted step from the sampled architecture
(the optimizer's `arch` argument, the step's first subnet) by the rule `ms.rule`, or given
explicitly by a technique as the optimizer argument `group` (`step_args["opt"]["group"]`).

Order: the reference (`train_spos.py`) clips the raw gradients, then each group's
`torch.optim.SGD` adds the coupled weight decay, updates its buffer and scales by the LR; the
base chain `clip -> decay -> momentum -> lr` is that order already, so only "momentum" changes
(FairNAS configs drop "clip" with `optim.clip = None`, as the reference does not clip there).

Rules:
  * "edge_op" (the reference): the op on one edge, 5 groups of 3,125 cells. The edge is `ms.edge`,
    or drawn once per run from `config.seed` when -1 (the reference draws it with Python's
    `random`; its seeds 0, 1 and 3 give edge 3). When the sampler draws several paths per step
    (`run.paths_per_step`, FairNAS) the edge is the base step argument `"tied_edge"`: the
    paths of a step share its op, hence one group, as in the reference's `train_fairnas.py`.
    In the DARTS space most edges are unused (`none`) in most genotypes, so the edge is one of
    `Space.split_edges`, node 2's two inputs in either cell, which every genotype uses: 7
    groups, one per non-`none` op, each 1/7 of the steps (`ms.num_groups=7`, `ms.edge` in
    {0, 1, 14, 15}). The "complexity" rule needs an enumerable space (NB201 only).
  * "complexity": `ms.num_groups` buckets of the cell's complexity (`ms.complexity` from the
    space's `complexity`), cut so that each bucket holds about the same share of the cells, i.e.
    of the steps under uniform sampling (NB201 has only 28 distinct parameter counts, so shares
    are approximate). Not in the reference.
  * "package.module:function": any jittable user function `arch int32[6] -> group in
    [0, ms.num_groups)`, checked on every cell of the space when the run is built (DARTS: on a
    fixed sample of 4,096 genotypes).
Memory: `G` momentum copies of the trained parameters instead of one (paper scale, 1.69 M
parameters: 6.7 MB -> 33.7 MB for G = 5).
"""

import importlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.optim.momentum_separation import separated_trace
from jaxnas.train.technique import Technique, replace

NAME = "ms"
RULES = ("edge_op", "complexity")
USER_RULE_SAMPLE = 4096  # cells a user rule is checked on where the space is not enumerable


def config_block():
    return dict(
        rule="edge_op",       # edge_op (reference: the op on one edge, 5 groups), complexity
                              # (num_groups equal-share complexity buckets), or "pkg.mod:fn", a
                              # jittable user function arch int32[6] -> group
        edge=-1,              # edge_op: the edge 0..5 (DARTS: 0, 1, 14, 15); -1: drawn once
                              # from config.seed
        num_groups=5,         # groups of the complexity and user rules (edge_op has 5; DARTS 7)
        complexity="num_params",  # complexity rule: num_params or flops (the run's table)
    )


def split_edge(edge, seed, edges=tuple(range(6))):
    """The edge of the "edge_op" rule: `edge` (one of `edges`), or drawn from `seed` when -1."""
    if edge == -1:
        return int(edges[np.random.default_rng(seed).integers(len(edges))])
    if not (isinstance(edge, int) and not isinstance(edge, bool) and edge in edges):
        allowed = (f"an edge 0..{len(edges) - 1}" if edges == tuple(range(len(edges)))
                   else f"one of the edges {edges} (those every cell uses)")
        raise ConfigError(f"ms.edge must be -1 or {allowed}, got {edge!r}")
    return edge


def complexity_buckets(values, num_groups):
    """int32 group of each entry of `values`: `num_groups` contiguous complexity buckets of about
    equal share, each distinct value whole in the bucket holding the middle of its share."""
    values = np.asarray(values)
    distinct, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    share = counts / counts.sum()
    middle = np.cumsum(share) - share / 2
    group_of_value = np.minimum((middle * num_groups).astype(np.int32), num_groups - 1)
    return group_of_value[inverse.ravel()].astype(np.int32)


def user_rule(path, num_groups, space):
    """The user function `module:function`, checked to map every cell of `space` (a fixed
    sample of `USER_RULE_SAMPLE` cells where it is not enumerable) into [0, num_groups)."""
    module, sep, attr = path.partition(":")
    if not sep or not module or not attr:
        raise ConfigError(f"ms.rule must be one of {RULES} or 'package.module:function', "
                          f"got {path!r}")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"ms.rule {path!r} cannot be loaded: {e}") from None
    try:
        cells = space.enumerate() if space.size is not None else \
            space.sample_np(np.random.default_rng(0), USER_RULE_SAMPLE)
        groups = np.asarray(jax.jit(jax.vmap(fn))(jnp.asarray(cells)))
    except Exception as e:  # noqa: BLE001  (any failure of user code: report it in one line)
        raise ConfigError(f"ms.rule {path!r} is not a jittable arch -> group function: "
                          f"{type(e).__name__}: {e}") from None
    if groups.shape != (len(cells),) or not np.issubdtype(groups.dtype, np.integer):
        raise ConfigError(f"ms.rule {path!r} must return one integer group per arch, got "
                          f"{groups.dtype} of shape {groups.shape[1:]}")
    if groups.min() < 0 or groups.max() >= num_groups:
        raise ConfigError(f"ms.rule {path!r} returns groups in [{groups.min()}, {groups.max()}], "
                          f"outside [0, ms.num_groups={num_groups})")
    return fn


def group_rule(config, run):
    """`(rule arch -> int32 group, num_groups, split edge or None)` from `config.ms`."""
    ms, space = config.ms, run.space
    if ms.rule == "edge_op":
        ops = tuple(space.split_ops)
        if ms.num_groups != len(ops):
            raise ConfigError(f"ms.rule 'edge_op' has {len(ops)} groups in the {space.name} "
                              f"space (one per op of its split edge); ms.num_groups is "
                              f"{ms.num_groups}")
        edge = split_edge(ms.edge, config.seed, tuple(space.split_edges))
        if ops == tuple(range(len(ops))):
            return (lambda arch: arch[edge]), len(ops), edge
        group_of_op = np.zeros(space.mask_shape[1], np.int32)
        group_of_op[list(ops)] = np.arange(len(ops))
        return (lambda arch: jnp.asarray(group_of_op)[arch[edge]]), len(ops), edge
    if not (isinstance(ms.num_groups, int) and ms.num_groups >= 1):
        raise ConfigError(f"ms.num_groups must be a positive int, got {ms.num_groups!r}")
    if ms.rule == "complexity":
        if ms.complexity not in ("num_params", "flops"):
            raise ConfigError(f"ms.complexity must be num_params or flops, got {ms.complexity!r}")
        if space.size is None:
            raise ConfigError(f"ms.rule 'complexity' cuts its buckets over every cell, and the "
                              f"{space.name} space is not enumerable; use edge_op")
        table = space.complexity(run.net_cfg, config.data.resolution)
        every = np.asarray(table(jnp.asarray(space.enumerate()))[ms.complexity])
        values, first = np.unique(every, return_index=True)
        groups = jnp.asarray(complexity_buckets(every, ms.num_groups)[first])
        values = jnp.asarray(values)

        def rule(arch):  # a cell's complexity is one of `values` exactly
            return groups[jnp.searchsorted(values, table(arch[None])[ms.complexity][0])]
        return rule, ms.num_groups, None
    return user_rule(ms.rule, ms.num_groups, space), ms.num_groups, None


def technique(config, run):
    rule, num_groups, edge = group_rule(config, run)
    o = config.optim
    trace = separated_trace(num_groups, o.momentum, o.nesterov,
                            group_fn=lambda arch, **_: rule(arch))
    epoch_start = None
    if edge is not None:
        args = {"tied_edge": jnp.int32(edge)} if run.paths_per_step > 1 else {}

        def epoch_start(state, epoch):
            del epoch
            return state, dict(args), {"ms_edge": edge}

    return Technique(name=NAME, optimizer=(replace("momentum", trace),),
                     epoch_start=epoch_start)
