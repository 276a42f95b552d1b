"""The `Space` protocol: what the step, samplers, scorers, ground truth and techniques know of a
search space.

An architecture is an int array of a fixed shape (`arch_shape`: NB201 `[6]`, one op per edge);
batches add a leading axis. A *space mask* (bool `mask_shape`, `[edges, ops]`: which op each
edge may take) describes a sub-space, e.g. after ABS shrinking; it is a runtime array, so
sampling under a new mask never recompiles. Spaces are small immutable objects holding no
arrays of their own state, so a run keeps one and passes it by reference.

Implementations: `jaxnas.spaces.nb201.SPACE`. Look one up by name with `jaxnas.spaces.get`.
"""

import re
from typing import Any, Optional, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Space(Protocol):
    """A cell search space. Methods marked *jittable* take and return jax arrays inside jit."""

    name: str
    ops: tuple              # op names, index order
    arch_shape: tuple       # shape of one architecture (int32)
    mask_shape: tuple       # shape of a space mask (bool): (edges, ops)
    edge_names: tuple       # a label per mask row, for logs (NB201 "2<-1", DARTS "reduce:3<-0")
    size: Optional[int]     # number of architectures when finite and enumerable, else None
    split_edges: tuple      # edges every architecture uses, and the ops they take, each equally
    split_ops: tuple        # often under uniform sampling (momentum separation's "edge_op")

    def full_mask(self) -> np.ndarray:
        """The mask of the whole space (every op allowed everywhere)."""

    def check_mask(self, mask) -> np.ndarray:
        """`mask` validated (ArchError naming the problem); None means the whole space."""

    def check(self, archs, *, batched=True) -> np.ndarray:
        """Architectures validated to int32 (ArchError naming the problem)."""

    def sample(self, key, mask) -> Any:
        """*Jittable*: one architecture uniform over the cells `mask` allows."""

    def sample_canonical(self, key, mask, *, require_conv=False) -> Any:
        """*Jittable*: one architecture uniform over the isomorphism classes `mask` allows
        (their representatives); with `require_conv`, over those with a convolution on a path
        from the cell input to its output (falling back to all allowed ones if none is)."""

    def sample_np(self, rng, n=None, *, unique=False, mask=None) -> np.ndarray:
        """Host sampling with a numpy Generator: `[n, ...]` (one when `n` is None)."""

    def mutate(self, rng, arch, *, mask=None) -> np.ndarray:
        """A neighbour of one architecture under `mask` (evolution's mutation): NB201 one edge's
        op; DARTS one used edge's op, or one input of a node moved (a valid genotype)."""

    def derive(self, alpha, mask=None) -> np.ndarray:
        """The architecture that weights `alpha` (float `mask_shape`, e.g. GDAS's logits)
        select under `mask`: NB201 each edge's largest; DARTS each node's two strongest edges,
        each with its best non-`none` op."""

    def allowed(self, archs, mask) -> Any:
        """bool `[n]`: which architectures use only what `mask` allows (numpy or jittable)."""

    def complexity(self, net_cfg, resolution):
        """*Jittable* `archs [k, ...] -> {"flops": float32[k], "num_params": float32[k]}` in
        millions at the network's width and depth and this input resolution."""

    def complexity_bounds(self, net_cfg, resolution) -> dict:
        """`{"flops": (lo, hi), "num_params": (lo, hi)}`: the least and most complex cells of
        the whole space (`complexity`'s units), e.g. CaLR's extremes."""

    def mask_size(self, mask) -> int:
        """Number of architectures `mask` allows."""

    def mask_archs(self, mask) -> np.ndarray:
        """Every architecture `mask` allows (finite spaces)."""

    def mask_to_str(self, mask) -> str:
        """A mask's text form (logs, `config.space_mask`)."""

    def mask_from_str(self, text, key="space_mask") -> np.ndarray:
        """Parse a mask's text form ("" is the whole space); ConfigError naming `key`."""

    def to_str(self, arch) -> str:
        """The space's own text form (NB201: `|op~0|+|...|`)."""

    def from_str(self, text) -> np.ndarray:
        """Parse the text form strictly (ArchError naming the problem)."""

    def canonical(self, archs) -> np.ndarray:
        """The canonical representative of each architecture's isomorphism class."""

    def enumerate(self) -> np.ndarray:
        """Every architecture (finite spaces; NB201 in official index order)."""

    def to_index(self, archs) -> np.ndarray:
        """Official indices `[n]` where the space has them."""

    def from_index(self, indices) -> np.ndarray:
        """Architectures of official indices."""


# An official index written as text; signed, so -1 reads as an index out of range, not as a
# malformed architecture string.
INDEX_TEXT = re.compile(r"[+-]?\d+")


def from_text(space, text) -> np.ndarray:
    """One architecture of `space` from a line of text or a key: a (signed) integer is an
    official index, range-checked (ArchError in spaces without indices); else the space's text
    form. Files of cells and ground-truth keys read cells this way."""
    text = str(text).strip()
    if INDEX_TEXT.fullmatch(text):
        return space.from_index(np.array([int(text)]))[0]
    return space.from_str(text)


class EdgeOpSpace:
    """What every space whose architecture is one op per mask row (NB201, DARTS) does alike:
    subclasses set `mask_shape` (`[edges, ops]`) and keep their own rules."""

    def full_mask(self):
        """The mask of the whole space (every op allowed everywhere)."""
        return np.ones(self.mask_shape, bool)

    def allowed(self, archs, mask):
        """bool `[n]`: whether each row of `archs` takes only ops `mask` allows (numpy in,
        numpy out; jax arrays in, jittable)."""
        rows = np.arange(self.mask_shape[0])
        if isinstance(archs, np.ndarray):
            return np.asarray(mask)[rows, archs].all(axis=-1)
        import jax.numpy as jnp  # numpy-only users of the spaces never load jax

        return jnp.asarray(mask)[rows, archs].all(axis=-1)
