"""Technique "dynamic.ms": momentum separation (DYNAS, CVPR 2025), config block `ms`.

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
    `random`; its seeds 0, 1 and 3 give edge 3). With `config.sampler == "fairnas"` the edge is
    passed to the sampler as `step_args["fairnas_shared_edge"]`: the 5 paths of a step share its
    op, hence one group, as in the reference's `train_fairnas.py`.
  * "complexity": `ms.num_groups` buckets of the cell's complexity (`ms.complexity` from the
    run's table), cut so that each bucket holds about the same share of the 15,625 cells, i.e.
    of the steps under uniform sampling (NB201 has only 28 distinct parameter counts, so shares
    are approximate). Not in the reference.
  * "package.module:function": any jittable user function `arch int32[6] -> group in
    [0, ms.num_groups)`, checked on all 15,625 cells when the run is built.
Memory: `G` momentum copies of the trained parameters instead of one (paper scale, 1.69 M
parameters: 6.7 MB -> 33.7 MB for G = 5).
"""

import importlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.errors import ConfigError
from jaxnas.optim.momentum_separation import separated_trace
from jaxnas.spaces import nb201
from jaxnas.train.technique import Technique, replace

RULES = ("edge_op", "complexity")
EDGE_OP_GROUPS = nb201.NUM_OPS


def config_block():
    return dict(
        rule="edge_op",       # edge_op (reference: the op on one edge, 5 groups), complexity
                              # (num_groups equal-share complexity buckets), or "pkg.mod:fn", a
                              # jittable user function arch int32[6] -> group
        edge=-1,              # edge_op: the edge 0..5; -1: drawn once from config.seed
        num_groups=5,         # groups of the complexity and user rules (edge_op has 5)
        complexity="num_params",  # complexity rule: num_params or flops (the run's table)
    )


def split_edge(edge, seed):
    """The edge of the "edge_op" rule: `edge`, or drawn from `seed` when -1."""
    if edge == -1:
        return int(np.random.default_rng(seed).integers(nb201.NUM_EDGES))
    if not (isinstance(edge, int) and 0 <= edge < nb201.NUM_EDGES):
        raise ConfigError(f"ms.edge must be -1 or an edge 0..5, got {edge!r}")
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


def _all_archs_by_code():
    codes = np.arange(nb201.NUM_ARCHS)
    powers = nb201.NUM_OPS ** np.arange(nb201.NUM_EDGES - 1, -1, -1)
    return (codes[:, None] // powers % nb201.NUM_OPS).astype(np.int32)


def user_rule(path, num_groups):
    """The user function `module:function`, checked to map every cell into [0, num_groups)."""
    module, sep, attr = path.partition(":")
    if not sep or not module or not attr:
        raise ConfigError(f"ms.rule must be one of {RULES} or 'package.module:function', "
                          f"got {path!r}")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"ms.rule {path!r} cannot be loaded: {e}") from None
    try:
        groups = np.asarray(jax.jit(jax.vmap(fn))(jnp.asarray(_all_archs_by_code())))
    except Exception as e:  # noqa: BLE001  (any failure of user code: report it in one line)
        raise ConfigError(f"ms.rule {path!r} is not a jittable arch -> group function: "
                          f"{type(e).__name__}: {e}") from None
    if groups.shape != (nb201.NUM_ARCHS,) or not np.issubdtype(groups.dtype, np.integer):
        raise ConfigError(f"ms.rule {path!r} must return one integer group per arch, got "
                          f"{groups.dtype} of shape {groups.shape[1:]}")
    if groups.min() < 0 or groups.max() >= num_groups:
        raise ConfigError(f"ms.rule {path!r} returns groups in [{groups.min()}, {groups.max()}], "
                          f"outside [0, ms.num_groups={num_groups})")
    return fn


def group_rule(config, run):
    """`(rule arch -> int32 group, num_groups, split edge or None)` from `config.ms`."""
    ms = config.ms
    if ms.rule == "edge_op":
        if ms.num_groups != EDGE_OP_GROUPS:
            raise ConfigError(f"ms.rule 'edge_op' has {EDGE_OP_GROUPS} groups (one per op); "
                              f"ms.num_groups is {ms.num_groups}")
        edge = split_edge(ms.edge, config.seed)
        return (lambda arch: arch[edge]), EDGE_OP_GROUPS, edge
    if not (isinstance(ms.num_groups, int) and ms.num_groups >= 1):
        raise ConfigError(f"ms.num_groups must be a positive int, got {ms.num_groups!r}")
    if ms.rule == "complexity":
        if ms.complexity not in ("num_params", "flops"):
            raise ConfigError(f"ms.complexity must be num_params or flops, got {ms.complexity!r}")
        net = run.net_cfg
        table = nb201.complexity_table(net.C, net.N, config.data.resolution,
                                       net.num_classes)[ms.complexity]
        groups = jnp.asarray(complexity_buckets(table, ms.num_groups))
        return (lambda arch: groups[nb201.arch_code(arch)]), ms.num_groups, None
    return user_rule(ms.rule, ms.num_groups), ms.num_groups, None


def technique(config, run):
    rule, num_groups, edge = group_rule(config, run)
    o = config.optim
    trace = separated_trace(num_groups, o.momentum, o.nesterov,
                            group_fn=lambda arch, **_: rule(arch))
    epoch_start = None
    if edge is not None:
        args = {"fairnas_shared_edge": jnp.int32(edge)} if config.sampler == "fairnas" else {}

        def epoch_start(state, epoch):
            del epoch
            return state, dict(args), {"ms_edge": edge}

    return Technique(name="dynamic.ms", optimizer=(replace("momentum", trace),),
                     epoch_start=epoch_start)
