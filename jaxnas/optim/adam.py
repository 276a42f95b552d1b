"""The architecture-parameter optimizer of DARTS, GDAS and ABS's magnitude baseline."""

import optax


def adam_l2(learning_rate=3e-4, b1=0.5, b2=0.999, weight_decay=1e-3, eps=1e-8):
    """`torch.optim.Adam(lr, betas, weight_decay)`: L2 (coupled) weight decay added to the
    gradient, then Adam; the reference codes' defaults for architecture logits."""
    return optax.chain(optax.add_decayed_weights(weight_decay),
                       optax.scale_by_adam(b1=b1, b2=b2, eps=eps), optax.scale(-learning_rate))
