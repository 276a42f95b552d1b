"""The train states a run stored at epoch boundaries (train with `train.keep_checkpoints` >=
epochs to keep one per epoch), for analyses over training: tau over epochs, ABS's offline
shrinking from an earlier epoch."""

from jaxnas.train import checkpoint


def epoch_steps(workdir, steps_per_epoch, epochs=None):
    """`{epoch: step}` of the checkpoints of `workdir` at epoch boundaries (of `epochs` only,
    when given), oldest first."""
    out = {}
    for step in sorted(checkpoint.steps(workdir)):
        if step % steps_per_epoch or (epochs and step // steps_per_epoch not in epochs):
            continue
        out[step // steps_per_epoch] = step
    return out


def epoch_states(workdir, recipe, epochs=None):
    """`(epoch, state)` of every checkpoint at an epoch boundary, oldest first, each verified
    against its manifest (as `jaxnas evaluate` does) and restored into `recipe`'s layout."""
    ckpt = checkpoint.Checkpointer(workdir, read_only=True)
    template = recipe.init()
    try:
        for epoch, step in epoch_steps(workdir, recipe.run.steps_per_epoch, epochs).items():
            yield epoch, ckpt.restore(template, step=step)
    finally:
        ckpt.close()
