"""Image transforms: host-side downsampling at load time, device-side augmentation in the step.

`downsample` runs once in numpy when a dataset is loaded at a reduced resolution. `augment` and
`normalize` are pure JAX functions meant to be called inside the jitted train / eval step, so the
host only ever ships uint8 batches and data loading never becomes the bottleneck.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnas.errors import DataError

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
DOWNSAMPLE_CHUNK = 1024


def downsample(images, size):
    """Area-average uint8 images [N,H,W,C] to [N,size,size,C] (H and W multiples of size).

    Exact integer arithmetic, rounding halves up, so the result does not depend on float error.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8:
        raise DataError(f"downsample expects uint8 images [N,H,W,C], got {images.dtype} "
                        f"{images.shape}")
    n, h, w, c = images.shape
    if size == h == w:
        return images
    if size <= 0 or h % size or w % size:
        raise DataError(f"cannot downsample {h}x{w} images to {size}x{size}: "
                        "the factor must be a positive integer")
    out = np.empty((n, size, size, c), np.uint8)
    for start in range(0, n, DOWNSAMPLE_CHUNK):  # chunks that fit in cache: ~4x faster
        out[start:start + DOWNSAMPLE_CHUNK] = _area_mean(
            images[start:start + DOWNSAMPLE_CHUNK], h // size, w // size)
    return out


def _area_mean(images, fh, fw):
    """Mean over fh x fw blocks by summing strided slices (faster than a 6-D reduction)."""
    n, h, w, c = images.shape
    sums = np.zeros((n, h // fh, w // fw, c), np.uint32)
    for dy in range(fh):
        for dx in range(fw):
            sums += images[:, dy::fh, dx::fw]
    area = fh * fw
    return (sums + area // 2) // area


def normalize(images, mean=CIFAR10_MEAN, std=CIFAR10_STD):
    """Scale uint8 images to [0,1] and standardise per channel; returns float32."""
    x = jnp.asarray(images, jnp.float32) / 255.0
    return (x - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)


def random_crop(key, images, pad):
    """Zero-pad each image by `pad` pixels and crop it back at a random offset per image.

    Matches torchvision `RandomCrop(size, padding=pad)`: raw zero pixels, offsets uniform in
    [0, 2*pad] on each axis.
    """
    b, h, w, c = images.shape
    padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    offsets = jax.random.randint(key, (b, 2), 0, 2 * pad + 1)

    def crop(image, offset):
        return lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, c))

    return jax.vmap(crop)(padded, offsets)


def random_flip(key, images):
    """Flip each image horizontally with probability 1/2."""
    flip = jax.random.bernoulli(key, 0.5, (images.shape[0],))
    return jnp.where(flip[:, None, None, None], images[:, :, ::-1], images)


def augment(key, images, *, pad=4, flip=True):
    """Standard CIFAR augmentation of a uint8 batch [B,H,W,3]: crop, flip, normalize -> float32.

    `pad` and `flip` are static; use a smaller `pad` for downsampled images if the config says so.
    """
    if pad < 0:
        raise DataError(f"augment pad must be >= 0, got {pad}")
    crop_key, flip_key = jax.random.split(key)
    if pad:
        images = random_crop(crop_key, images, pad)
    if flip:
        images = random_flip(flip_key, images)
    return normalize(images)


def cutout(key, x, length):
    """DARTS's `Cutout` (quark0/darts `utils.py`) of a normalised batch `x` `[B, H, W, C]`: per
    image a `length` x `length` square centred at a uniform pixel, clipped at the borders, set to
    zero. `length` is static."""
    b, h, w = x.shape[:3]
    centre = jax.random.randint(key, (b, 2), 0, jnp.array([h, w]))
    rows, cols = jnp.arange(h), jnp.arange(w)
    half = length // 2
    inside_r = (rows[None] >= centre[:, :1] - half) & (rows[None] < centre[:, :1] + half)
    inside_c = (cols[None] >= centre[:, 1:] - half) & (cols[None] < centre[:, 1:] + half)
    hole = inside_r[:, :, None] & inside_c[:, None, :]
    return jnp.where(hole[..., None], jnp.zeros((), x.dtype), x)
