"""One jitted SPOS train step over the train state.

The step samples an architecture, augments the batch, sums named loss terms, and applies the optax
update, all inside one `jax.jit` with the state donated. Everything that may change between steps
(sharing map, curriculum level, loss coefficients, masks) arrives in `step_args`, a pytree of
arrays, so changing it never recompiles.

Seams for techniques:
  * `forward(params, arch, x, key, step_args) -> logits`: how the trained parameters map an
    architecture and images to logits (the plain supernet, or e.g. CLOSENet with its gate).
  * `loss_terms`: extra named losses `f(params, batch, key, step_args) -> scalar` added to the
    cross-entropy (e.g. landmark regularisation).
  * `step_args["opt"]`: extra keyword arguments for the optax update (e.g. block masks).
"""


import jax
import jax.numpy as jnp
import optax

from jaxnas.data import augment, normalize
from jaxnas.supernet import nb201


def supernet_forward(cfg, *, axis_name=None):
    """`forward` for the plain supernet: the sharing map comes from `step_args["sharing"]`."""
    def forward(params, arch, x, key, step_args):
        del key
        return nb201.apply(params, arch, x, step_args["sharing"], cfg=cfg, axis_name=axis_name)
    return forward


def make_train_step(forward, tx, sampler, *, pad=4, flip=True, loss_terms=None):
    """Build `train_step(state, images_uint8, labels, step_args) -> (state, metrics)`, jitted.

    Args:
      forward: see the module docstring.
      tx: an optax `GradientTransformation` (extra args from `step_args["opt"]` are forwarded).
      sampler: `key -> int32[NUM_EDGES]` architecture sampler.
      pad, flip: random-crop padding and horizontal flips (augmentation runs on device).
      loss_terms: optional dict name -> `f(params, batch, key, step_args) -> scalar`.
    """
    loss_terms = dict(loss_terms or {})

    def train_step(state, images, labels, step_args):
        key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
        k_arch, k_aug, k_fwd, k_terms = jax.random.split(key, 4)
        arch = sampler(k_arch)
        x = augment(k_aug, images, pad=pad, flip=flip) if pad or flip else normalize(images)

        def loss_fn(params):
            logits = forward(params, arch, x, k_fwd, step_args)
            ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
            terms = {"ce": ce}
            batch = {"images": images, "labels": labels, "arch": arch}
            for name, term in loss_terms.items():
                terms[name] = term(params, batch, k_terms, step_args)
            return sum(terms.values()), (logits, terms)

        (loss, (logits, terms)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params,
                                       **step_args.get("opt", {}))
        params = optax.apply_updates(state.params, updates)
        metrics = {
            "loss": loss,
            "acc": jnp.mean(jnp.argmax(logits, -1) == labels) * 100.0,
            "grad_norm": optax.tree.norm(grads),
            "update_norm": optax.tree.norm(updates),
            **{f"loss_{k}": v for k, v in terms.items() if k != "ce"},
        }
        new_state = state._replace(params=params, opt_state=opt_state, step=state.step + 1)
        return new_state, metrics

    return jax.jit(train_step, donate_argnums=(0,))
