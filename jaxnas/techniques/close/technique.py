"""CLOSE as a technique: CLOSENet forward, frozen inactive blocks, curriculum hooks, gated scoring.

One flow for the NB201 and DARTS spaces; what differs (the GATE, the pool layout, the sharing
maps) is the space's `layouts.Layout`. Parameters gain `"gate"`; listing the technique gives the
supernet the pool slots of its GLOW blocks (`prepare`: NB201 `k_max` per cell, DARTS `2 k_max`,
a reduction cell's stride-2 blocks beside its stride-1 ones). Per step, the GATE assigns every
edge of the sampled cell a block by straight-through Gumbel-softmax, and all active blocks run
with the gate weights (one-hot in value), so the gate learns from the task loss. The level
(active blocks) is a runtime int32 and the optimizer's block mask a runtime pytree: adding a
block never recompiles.

At the start of each epoch in `cl_schedule` a block is activated with WIT inheritance; at each
epoch in `restart_epochs` the momentum is reset and the cosine learning rate restarts (SRT);
`close.lr_schedule="plateau"` uses the reference's ReduceLROnPlateau instead (`close.plateau`).
Scoring runs the gate in evaluation mode once per architecture (Gumbel noise on as in the
reference, seeded per architecture: NB201 its index, DARTS a CRC-32 of its ops;
`close.eval_noise=False` for argmax of the logits) and scores the chosen blocks single-path.

Cells are drawn by the base's sampler; the CLOSE configs set the reference's,
`sampler="unique_conv"` (aw_nas's `deiso` + `check_valid`: uniform over the 6,321 non-isomorphic
cells with a convolution on a live path, see `jaxnas.train.samplers`); `sampler="uniform"` (the
base default, all 15,625 cells) trained the committed CLOSE mini results.

`close.gate_variant` picks the GATE. "faithful" is the reference's: trained by the supernet's SGD
with weight decay, and in practice blind to the cell (its flow-GCN shrinks the node states ~5x
per layer, it gets exactly zero gradient while one block is active yet is decayed, and once it
learns, only its last bias moves), so blocks are assigned by the evaluation noise. "structure"
(NB201 only: its centring reads NB201 reference cells) departs from the reference so that the
assignment depends on the cell:

  * layer norm between the GCN layers (`GateConfig.gcn_norm`): node states keep unit scale, the
    encoder gets gradients ~100x larger relative to the MLP's (at init: 1.0 vs 0.01 of them);
  * logits centred over 25 fixed reference cells (`GateConfig.center`): a working GATE
    trained by the task loss otherwise learns one global preference, the oldest (best-trained)
    block for every cell, i.e. the largest sharing extent again (measured in a mini prototype,
    a block added every 100 steps: one assignment for all 1,000 probe cells from the first
    epoch with two blocks on, the logit margin growing to ~70); centred, it can only say how a
    cell differs from other cells;
  * its own optimizer without weight decay: `optim.groups.gate` is required and must not decay
    (the structure configs use Adam 1e-3); the group's state is reset when the second block
    arrives, so the GATE, which gets exactly zero gradient while one block is active, stays
    bit-identical then and its optimizer starts at its first multi-block step, and again at each
    SRT restart (as the reference re-creates its optimizer).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnas.errors import ConfigError
from jaxnas.optim import cosine_schedule
from jaxnas.techniques.close.curriculum import add_block, check_schedule, level_at, levels_added
from jaxnas.techniques.close.gate import GateConfig
from jaxnas.techniques.close.layouts import layout
from jaxnas.techniques.close.masking import block_mask, freeze_edits, reset_group, restart_opt_state
from jaxnas.techniques.close.plateau import lr_scale, reduce_on_plateau
from jaxnas.train.technique import Technique, append

NAME = "close"
GATE_VARIANTS = ("faithful", "structure")
LR_SCHEDULES = ("cosine", "plateau")
# The departures of `gate_variant="structure"` inside the GATE (see the module docstring).
STRUCTURE_GATE = dict(gcn_norm="layer", center=True)


def config_block():
    """Defaults: the released NB201 configs of aw_nas (GATE sizes, tau 5); the curriculum is set
    per config file."""
    return dict(k_max=4, cl_schedule=(1,), restart_epochs=(), tau=5.0, eval_noise=True,
                eval_seed=123,
                # faithful: the reference GATE; structure: a GATE that sees the cell (layer norm,
                # centred logits, own optimizer `optim.groups.gate` without decay, frozen while
                # one block is active); see jaxnas/close/technique.py.
                gate_variant="faithful",
                # cosine: the base cosine LR, restarted at restart_epochs (SRT); plateau: the
                # reference's ReduceLROnPlateau on the epoch's mean training loss, from optim.lr
                # (reset at restart_epochs); `plateau` holds its torch arguments. The log's `lr`
                # is then optim.lr and `lr_scale` the plateau's multiplier.
                lr_schedule="cosine",
                plateau=dict(factor=0.5, patience=30, threshold=1e-4),
                gate=dict(op_emb_dim=48, node_emb_dim=48, hid_dim=96, gcn_out_dims=(128,) * 5,
                          mlp_dims=(200, 200, 200), mlp_dropout=0.1))


def prepare(config):
    """What CLOSE needs of the base config: the pool slots of its GLOW blocks (NB201 one per
    block, DARTS two: `layouts`)."""
    config.supernet.slots_per_cell = _slots(config)


def _slots(config):
    return layout(config.get("space", "nb201")).slots_per_cell(config.close.k_max)


def curriculum(config, cl_schedule, restart_epochs, k_max=4):
    """Set a run's CLOSE curriculum in its config: `k_max` GLOW blocks per cell (and their pool
    slots, `prepare`), blocks added at the epochs of `cl_schedule`, SRT restarts at
    `restart_epochs`."""
    config.close.k_max = k_max
    config.supernet.slots_per_cell = _slots(config)
    config.close.cl_schedule = tuple(cl_schedule)
    config.close.restart_epochs = tuple(restart_epochs)
    return config


def structure_gate(config):
    """Set the structure-aware GATE: the variant, argmax scoring, its own decay-free Adam."""
    config.close.gate_variant = "structure"
    config.close.eval_noise = False
    config.optim.groups = {"gate": {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0}}
    return config


def gate_config(close_cfg):
    g = close_cfg.gate
    variant = STRUCTURE_GATE if close_cfg.gate_variant == "structure" else {}
    return GateConfig(k_max=close_cfg.k_max, op_emb_dim=g.op_emb_dim, node_emb_dim=g.node_emb_dim,
                      hid_dim=g.hid_dim, gcn_out_dims=tuple(g.gcn_out_dims),
                      mlp_dims=tuple(g.mlp_dims), mlp_dropout=g.mlp_dropout, tau=close_cfg.tau,
                      **variant)


def _check(config):
    c = config.close
    space = config.get("space", "nb201")
    if config.supernet.slots_per_cell != _slots(config):  # prepare() sets it; an edit undid it
        per_block = "2 x close.k_max in DARTS" if space == "darts" else "close.k_max"
        raise ConfigError(f"close needs supernet.slots_per_cell == {per_block} (the pool slots "
                          f"of its GLOW blocks), got {config.supernet.slots_per_cell} and "
                          f"k_max {c.k_max}")
    schedule = check_schedule(c.cl_schedule, c.k_max)
    restarts = tuple(c.restart_epochs)
    if any(not isinstance(e, int) or e < 2 for e in restarts):
        raise ConfigError(f"close.restart_epochs must be epochs >= 2, got {list(restarts)}")
    if c.gate_variant not in GATE_VARIANTS:
        raise ConfigError(f"close.gate_variant must be one of {GATE_VARIANTS}, "
                          f"got {c.gate_variant!r}")
    if c.lr_schedule not in LR_SCHEDULES:
        raise ConfigError(f"close.lr_schedule must be one of {LR_SCHEDULES}, "
                          f"got {c.lr_schedule!r}")
    if c.gate_variant == "structure" and not layout(space).structure:
        raise ConfigError(f"close.gate_variant='structure' (centred over NB201 reference cells) "
                          f"is not ported to the {space} space; use 'faithful'")
    if c.gate_variant == "structure":
        group = config.optim.groups.get("gate")
        if group is None:
            raise ConfigError("close.gate_variant='structure' trains the GATE with its own "
                              "optimizer: set optim.groups.gate, e.g. {'optimizer': 'adam', "
                              "'lr': 1e-3, 'weight_decay': 0.0}")
        if group.get("weight_decay", 0.0):
            raise ConfigError("close.gate_variant='structure' trains the GATE without weight "
                              f"decay, got optim.groups.gate.weight_decay="
                              f"{group.get('weight_decay')!r}")
    if config.sharing != "vanilla":
        raise ConfigError(f"close assigns the pool slots itself (the GATE's blocks); "
                          f"sharing={config.sharing!r} cannot be combined with it")
    return schedule, restarts


def optimizer_edits(config, steps_per_epoch):
    """CLOSE's edits of the base SGD: the block masks (`masking.freeze_edits`), and with
    `lr_schedule="plateau"` the plateau rule scaling the updates after the (constant) learning
    rate."""
    edits = freeze_edits(config.optim.clip)
    if config.close.lr_schedule == "plateau":
        p = config.close.plateau
        edits += (append("plateau", reduce_on_plateau(
            factor=p.factor, patience=p.patience, threshold=p.threshold,
            steps_per_epoch=steps_per_epoch)),)
    return edits


def technique(config, run):
    """The CLOSE `Technique` for `config` (see `configs/nb201_close*.py`)."""
    schedule, restarts = _check(config)
    space = layout(run.space.name)
    net_cfg = run.net_cfg
    gate_cfg = gate_config(config.close)
    k_max, slots = gate_cfg.k_max, net_cfg.slots_per_cell
    spe = run.steps_per_epoch
    o = config.optim
    if config.close.lr_schedule == "plateau":
        lr = optax.constant_schedule(o.lr)  # scaled by the "plateau" part
    else:
        lr = cosine_schedule(o.lr, o.min_lr, run.total_steps,
                             restarts=[(e - 1) * spe for e in restarts])
    structure = config.close.gate_variant == "structure"
    train_sharing = jnp.asarray(space.train_sharing(net_cfg, k_max))

    def forward(params, arch, x, key, step_args):
        weights, active, _ = space.gate(params["gate"], arch, step_args["level"], key, gate_cfg,
                                        train=True)
        return space.apply(params["supernet"], arch, x, train_sharing, cfg=net_cfg,
                           slot_mix=(weights, active))

    def epoch_start(state, epoch):
        params, opt_state = state.params, state.opt_state
        if int(state.step) == (epoch - 1) * spe:  # not a mid-epoch resume
            params = dict(params)
            added = levels_added(epoch, schedule)
            for level in added:
                params["supernet"], params["gate"] = add_block(
                    params["supernet"], params["gate"], level, k_max=k_max, slots_per_cell=slots)
            if epoch in restarts:
                opt_state = restart_opt_state(opt_state)  # also a fresh plateau rule
            if structure and (2 in added or epoch in restarts):
                opt_state = reset_group(opt_state, "gate")  # the GATE's optimizer starts now
        level = level_at(epoch, schedule)
        step_args = {"level": jnp.int32(level),
                     "opt": {"block_mask": block_mask(params, level, k_max=k_max,
                                                      slots_per_cell=slots)}}
        log = {"sharing": space.extent(level, net_cfg, k_max)}
        if config.close.lr_schedule == "plateau":
            log["lr_scale"] = lr_scale(opt_state, config.close.plateau.factor)
        return state._replace(params=params, opt_state=opt_state), step_args, log

    assign = jax.jit(jax.vmap(
        lambda p, arch, level, key: space.gate(p, arch, level, key, gate_cfg, train=False,
                                               noise=config.close.eval_noise)[2],
        in_axes=(None, 0, None, 0)))

    def subnet(params, archs, epoch):
        archs = np.asarray(archs, np.int32)
        base = jax.random.key(config.close.eval_seed)
        keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(space.arch_seeds(run.space, archs))
        level = jnp.int32(level_at(max(1, epoch), schedule))
        blocks = np.asarray(assign(params["gate"], archs, level, keys))
        return params["supernet"], space.eval_sharing(blocks, net_cfg, k_max)

    return Technique(
        name=NAME,
        init_params=lambda key: {"gate": space.init_gate(key, gate_cfg)},
        forward=forward,
        optimizer=optimizer_edits(config, spe),
        schedule=lr,
        epoch_start=epoch_start,
        subnet=subnet,
    )
