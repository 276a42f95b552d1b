"""One jitted train step over the train state.

The step samples architectures, augments the batch, sums the cross-entropy of each sampled
architecture and the techniques' loss terms, and applies the optax update, all inside one
`jax.jit` with the state donated. Everything that may change between steps (sharing map, space
mask, curriculum level, loss coefficients, optimizer masks) arrives in `step_args`, a pytree of
arrays, so changing its values never recompiles. One change of structure is allowed: a loss term
whose `step_args[name]` is `None` is off for the epoch and not traced (a warm-up without the
term's extra forwards); the step then compiles once for each of the two structures.

Seams (see `jaxnas.train.technique` for how techniques provide them):
  * `forward(params, arch, x, key, step_args) -> logits`.
  * `sampler(key, step_args, extra) -> int32[k, ...]`: with k > 1 (FairNAS) the architectures'
    gradients are accumulated (one backward per architecture; `path_loop` says how) and applied
    in one update. `extra` is the techniques' state (GDAS's logits change every step, so they
    cannot come from the epoch's arguments).
  * `loss_terms`: name -> `term(params, ctx) -> scalar`, `ctx` a `StepContext`.
  * `arch_weight(arch, ctx) -> scalar` multiplies each architecture's cross-entropy.
  * The optax update receives, besides `step_args["opt"]`, the keyword arguments `OPT_ARGS`.
  * `update_state`: name -> `fn(tech_state, params, ctx) -> tech_state` after the update.
"""

import functools

import jax
import jax.numpy as jnp
import optax

from jaxnas import parallel, runtime
from jaxnas.data import augment, normalize
from jaxnas.errors import ConfigError
from jaxnas.supernet import darts, nb201
from jaxnas.train.technique import StepContext

PATH_LOOPS = ("auto", "scan", "unroll")


def resolved_path_loop(path_loop, backend=None):
    """The loop `path_loop` means on `backend`: "auto" is "unroll" on the CPU (XLA's CPU backend
    runs the convolutions of a scanned path several times slower), "scan" elsewhere."""
    if path_loop != "auto":
        return path_loop
    return "unroll" if (backend or jax.default_backend()) == "cpu" else "scan"


# Keyword arguments every optax piece receives in `update` (besides `step_args["opt"]`).
OPT_ARGS = {
    "arch": "int32[6]: the (first) sampled architecture",
    "archs": "int32[k, 6]: every architecture sampled this step",
    "flops": "float32[k]: their multiply-accumulates per image, millions (`Space.complexity`)",
    "num_params": "float32[k]: their parameters, millions (`Space.complexity`)",
    "loss": "float32: this step's loss",
    "step": "int32: the global step before this update",
}


def supernet_forward(cfg, *, axis_name=None):
    """`forward` for the plain supernet `params["supernet"]`; the sharing map comes from
    `step_args["sharing"]`."""
    apply = darts.apply if isinstance(cfg, darts.SupernetConfig) else nb201.apply

    def forward(params, arch, x, key, step_args):
        del key
        return apply(params["supernet"], arch, x, step_args["sharing"], cfg=cfg,
                     axis_name=axis_name)
    return forward


def _cross_entropy(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def _all_finite(tree):
    """Whether every floating-point value of `tree` is finite (a traced bool scalar)."""
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack([jnp.isfinite(x).all() for x in leaves]))


def make_train_step(forward, tx, sampler, *, pad=4, flip=True, loss_terms=None, arch_weight=None,
                    complexity=None, update_state=None, mesh=None, batch_norm="global",
                    path_loop="auto", skip_nonfinite=False):
    """Build `train_step(state, images_uint8, labels, step_args) -> (state, metrics)`, jitted.

    Args:
      forward, sampler, loss_terms, arch_weight, update_state: see the module docstring.
      tx: any optax transformation (a plain one ignores the extra arguments).
      pad, flip: random-crop padding and horizontal flips (augmentation runs on device).
      complexity: jittable `archs -> {"flops": float32[k], "num_params": float32[k]}`
        (`Space.complexity`); None passes zeros.
      mesh, batch_norm: data parallelism (`jaxnas.parallel`): the batch split over `mesh`, the
        state replicated; BN over the global batch ("global") or each device's ("per_device").
        None: one device. The returned step's `on_mesh(mesh, batch_norm)` builds this step
        again on another mesh.
      path_loop: how k > 1 sampled paths accumulate their gradients: "scan" (one traced path:
        one path's activations live at a time, fast compiles), "unroll" (k traced paths: on the
        CPU a FairNAS step runs 3.6x faster at mini scale, 3.7x at paper scale, for 2.4x the
        peak memory and 2.6x the compile time; `experiments/bench_arms.py`) or "auto": unroll on
        the CPU, scan elsewhere (where memory is what runs out).
      skip_nonfinite: a step whose loss, gradient norm or new parameters are not finite keeps
        the old parameters, optimizer and technique states (a select inside the jitted step:
        one compilation). Either way the metric `nonfinite` is 1 for such a step (its other
        metrics are 0), so the loop can count them without reading each step's loss.
    """
    if path_loop not in PATH_LOOPS:
        raise ConfigError(f"path_loop must be one of {', '.join(PATH_LOOPS)}, got {path_loop!r}")
    rebuild = functools.partial(make_train_step, forward, tx, sampler, pad=pad, flip=flip,
                                loss_terms=loss_terms, arch_weight=arch_weight,
                                complexity=complexity, update_state=update_state,
                                path_loop=path_loop, skip_nonfinite=skip_nonfinite)
    if mesh is not None and parallel.check_batch_norm(batch_norm) == "per_device":
        forward = parallel.per_device_forward(forward, mesh)
    loss_terms = dict(loss_terms or {})
    update_state = dict(update_state or {})
    tx = optax.with_extra_args_support(tx)

    def train_step(state, images, labels, step_args):
        key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
        k_arch, k_aug, k_fwd, k_terms = jax.random.split(key, 4)
        archs = sampler(k_arch, step_args, state.extra)
        num_archs = archs.shape[0]
        x = augment(k_aug, images, pad=pad, flip=flip) if pad or flip else normalize(images)
        known = complexity(archs) if complexity is not None else {}
        cplx = {k: known.get(k, jnp.zeros(num_archs)) for k in ("flops", "num_params")}

        def fwd(params, arch, xx, kk):
            return forward(params, arch, xx, kk, step_args)

        def context(arch, k):
            return StepContext(x=x, labels=labels, archs=archs, arch=arch, key=k, step=state.step,
                               step_args=step_args, extra=state.extra, forward=fwd,
                               complexity=cplx)

        def arch_loss(params, arch, k):
            logits = forward(params, arch, x, k, step_args)
            ce = _cross_entropy(logits, labels)
            if arch_weight is not None:
                ce = ce * arch_weight(arch, context(arch, k))
            return ce, logits

        def terms(params):
            return {name: term(params, context(archs[0], jax.random.fold_in(k_terms, i)))
                    if step_args.get(name, ()) is not None else jnp.float32(0)
                    for i, (name, term) in enumerate(loss_terms.items())}

        if num_archs == 1:
            def loss_fn(params):
                ce, logits = arch_loss(params, archs[0], k_fwd)
                parts = {"ce": ce, **terms(params)}
                return sum(parts.values()), (logits, parts)

            (loss, (logits, parts)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                state.params)
            acc = jnp.mean(jnp.argmax(logits, -1) == labels) * 100.0
        else:
            def accumulate(carry, inputs):
                grads, ce_sum, acc_sum = carry
                arch, k = inputs
                (ce, logits), g = jax.value_and_grad(arch_loss, has_aux=True)(
                    state.params, arch, k)
                correct = jnp.mean(jnp.argmax(logits, -1) == labels)
                return (jax.tree.map(jnp.add, grads, g), ce_sum + ce, acc_sum + correct), None

            carry = (jax.tree.map(jnp.zeros_like, state.params), jnp.float32(0), jnp.float32(0))
            paths = (archs, jax.random.split(k_fwd, num_archs))
            if resolved_path_loop(path_loop) == "scan":
                carry, _ = jax.lax.scan(accumulate, carry, paths)
            else:
                for i in range(num_archs):
                    carry, _ = accumulate(carry, jax.tree.map(lambda a, i=i: a[i], paths))
            grads, ce, acc = carry
            acc = acc / num_archs * 100.0
            parts = {"ce": ce}
            if loss_terms:
                def terms_fn(params):
                    t = terms(params)
                    return sum(t.values()), t
                (_, t), g = jax.value_and_grad(terms_fn, has_aux=True)(state.params)
                grads = jax.tree.map(jnp.add, grads, g)
                parts.update(t)
            loss = sum(parts.values())

        opt_args = {"arch": archs[0], "archs": archs, "loss": loss, "step": state.step, **cplx,
                    **step_args.get("opt", {})}
        updates, opt_state = tx.update(grads, state.opt_state, state.params, **opt_args)
        params = optax.apply_updates(state.params, updates)
        extra = state.extra
        if update_state:
            extra = dict(extra)
            for i, (name, fn) in enumerate(update_state.items()):
                k = jax.random.fold_in(k_terms, len(loss_terms) + i)
                extra[name] = fn(state.extra[name], params, context(archs[0], k))
        metrics = {
            "loss": loss,
            "acc": acc,
            "grad_norm": optax.tree.norm(grads),
            "update_norm": optax.tree.norm(updates),
            **{f"loss_{k}": v for k, v in parts.items() if k != "ce"},
        }
        finite = _all_finite((loss, metrics["grad_norm"], params))
        if skip_nonfinite:  # the step still counts (data order and keys follow state.step)
            params, opt_state, extra = jax.lax.cond(
                finite, lambda new, old: new, lambda new, old: old,
                (params, opt_state, extra), (state.params, state.opt_state, state.extra))
        metrics = {k: jnp.where(finite, v, 0.0) for k, v in metrics.items()}
        metrics["nonfinite"] = 1.0 - finite.astype(jnp.float32)
        new_state = state._replace(params=params, opt_state=opt_state, step=state.step + 1,
                                   extra=extra)
        return new_state, metrics

    runtime.trim_after_compiles()  # the compiler's freed memory back to the OS before the run
    if mesh is None:
        jitted = jax.jit(train_step, donate_argnums=(0,))
    else:
        jitted = parallel.jit_on_mesh(train_step, mesh)
    jitted.on_mesh = lambda mesh, batch_norm="global": rebuild(mesh=mesh, batch_norm=batch_norm)
    return jitted
