"""CLOSE as a technique: CLOSENet forward, frozen inactive blocks, curriculum hooks, gated scoring.

Parameters gain `"gate"`; the supernet has `slots_per_cell = k_max` (each cell's pool holds its
`k_max` GLOW blocks). Per step, the GATE assigns every edge of the sampled cell a block by
straight-through Gumbel-softmax, and all active blocks run with the gate weights (one-hot in
value), so the gate learns from the task loss. The level (active blocks) is a runtime int32 and
the optimizer's block mask a runtime pytree: adding a block never recompiles.

At the start of each epoch in `cl_schedule` a block is activated with WIT inheritance; at each
epoch in `restart_epochs` the momentum is reset and the cosine learning rate restarts (SRT).
Scoring runs the gate in evaluation mode once per architecture (Gumbel noise on as in the
reference, seeded per architecture index; `close.eval_noise=False` for argmax of the logits) and
scores the chosen blocks single-path.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.close.curriculum import (add_block, check_schedule, level_at, levels_added,
                                     sharing_extent)
from jaxnas.close.gate import GateConfig, close_sharing, gate, init_gate
from jaxnas.close.masking import block_mask, freeze_inactive, restart_opt_state
from jaxnas.errors import ConfigError
from jaxnas.optim import cosine_schedule
from jaxnas.spaces.nb201 import archs_to_indices
from jaxnas.supernet import nb201
from jaxnas.train.technique import Technique, after, before


def config_block():
    """Defaults: the released NB201 configs of aw_nas (GATE sizes, tau 5); the curriculum is set
    per config file. Needs `supernet.slots_per_cell == close.k_max`."""
    return dict(k_max=4, cl_schedule=(1,), restart_epochs=(), tau=5.0, eval_noise=True,
                eval_seed=123,
                gate=dict(op_emb_dim=48, node_emb_dim=48, hid_dim=96, gcn_out_dims=(128,) * 5,
                          mlp_dims=(200, 200, 200), mlp_dropout=0.1))


def gate_config(close_cfg):
    g = close_cfg.gate
    return GateConfig(k_max=close_cfg.k_max, op_emb_dim=g.op_emb_dim, node_emb_dim=g.node_emb_dim,
                      hid_dim=g.hid_dim, gcn_out_dims=tuple(g.gcn_out_dims),
                      mlp_dims=tuple(g.mlp_dims), mlp_dropout=g.mlp_dropout, tau=close_cfg.tau)


def _check(config):
    c = config.close
    if config.supernet.slots_per_cell != c.k_max:
        raise ConfigError(f"close needs supernet.slots_per_cell == close.k_max (one pool slot per "
                          f"GLOW block), got {config.supernet.slots_per_cell} and {c.k_max}")
    schedule = check_schedule(c.cl_schedule, c.k_max)
    restarts = tuple(c.restart_epochs)
    if any(not isinstance(e, int) or e < 2 for e in restarts):
        raise ConfigError(f"close.restart_epochs must be epochs >= 2, got {list(restarts)}")
    if config.sharing != "vanilla":
        raise ConfigError(f"close assigns the pool slots itself (the GATE's blocks); "
                          f"sharing={config.sharing!r} cannot be combined with it")
    return schedule, restarts


def optimizer_edits(config):
    """CLOSE's edits of the base SGD: mask the gradients before the clip (inactive blocks do not
    count in the global norm) and again after the weight decay (so they are not decayed and feed
    nothing into the momentum); see `jaxnas.close.masking`."""
    first = "clip" if config.optim.clip is not None else "decay"
    return (before(first, "freeze_grads", freeze_inactive()),
            after("decay", "freeze", freeze_inactive()))


def technique(config, run):
    """The CLOSE `Technique` for `config` (see `configs/nb201_close*.py`)."""
    schedule, restarts = _check(config)
    net_cfg = run.net_cfg
    gate_cfg = gate_config(config.close)
    n, k_max = net_cfg.N, gate_cfg.k_max
    spe = run.steps_per_epoch
    o = config.optim
    lr = cosine_schedule(o.lr, o.min_lr, run.total_steps,
                         restarts=[(e - 1) * spe for e in restarts])
    train_sharing = jnp.asarray(close_sharing(None, n, k_max))

    def forward(params, arch, x, key, step_args):
        weights, active, _ = gate(params["gate"], arch, step_args["level"], key, gate_cfg,
                                  train=True)
        return nb201.apply(params["supernet"], arch, x, train_sharing, cfg=net_cfg,
                           slot_mix=(weights, active))

    def epoch_start(state, epoch):
        params, opt_state = state.params, state.opt_state
        if int(state.step) == (epoch - 1) * spe:  # not a mid-epoch resume
            params = dict(params)
            for level in levels_added(epoch, schedule):
                params["supernet"], params["gate"] = add_block(
                    params["supernet"], params["gate"], level, n_cells_per_stage=n, k_max=k_max)
            if epoch in restarts:
                opt_state = restart_opt_state(opt_state)
        level = level_at(epoch, schedule)
        step_args = {"level": jnp.int32(level),
                     "opt": {"block_mask": block_mask(params, level, n_cells_per_stage=n,
                                                      k_max=k_max)}}
        log = {"sharing": sharing_extent(level, net_cfg)}
        return state._replace(params=params, opt_state=opt_state), step_args, log

    assign = jax.jit(jax.vmap(
        lambda p, arch, level, key: gate(p, arch, level, key, gate_cfg, train=False,
                                         noise=config.close.eval_noise)[2],
        in_axes=(None, 0, None, 0)))

    def subnet(params, archs, epoch):
        archs = np.asarray(archs, np.int32)
        base = jax.random.key(config.close.eval_seed)
        keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(archs_to_indices(archs))
        level = jnp.int32(level_at(max(1, epoch), schedule))
        blocks = np.asarray(assign(params["gate"], archs, level, keys))
        return params["supernet"], close_sharing(blocks[:, None, :], n, k_max)

    return Technique(
        name="close",
        init_params=lambda key: {"gate": init_gate(key, gate_cfg)},
        forward=forward,
        optimizer=optimizer_edits(config),
        schedule=lr,
        epoch_start=epoch_start,
        subnet=subnet,
    )
