"""One 3x3 convolution of NB201's shapes, forward and forward + gradient, jaxnas against PyTorch.

Why is PyTorch's step faster where a network is mostly 3x3 convolutions (issue 32)? This times the
convolution itself, per shape, with every other cost out of the way:

  jax       `jaxnas.supernet.conv.conv2d` as the supernet runs it (`nested`, XLA's convolution
            forward, the gradient as two canonical convolutions) and XLA's own gradient (`xla`),
            and three rewritings that change the kernels XLA picks: `nchw` (channels-first
            dimension numbers), `shift3` (a 3x1 convolution over three column-shifted copies,
            3C input channels), `pair` (two images side by side in the channels, a block-diagonal
            kernel: 2C channels, twice the multiplications) and `im2col` (the 9 shifted copies
            times the kernel as one matrix product). Each is checked against `xla` first.
            The weight gradient alone, given x and dy: `nested`'s (its backward pass: a
            convolution between transposes), nine einsums over shifted copies of x (`shift9`,
            no transposes) and one einsum over the im2col copies (`im2col`).
  torch     `torch.nn.functional.conv2d` on NCHW tensors and on channels-last ones (oneDNN).

Shapes `(batch, size, channels)`: NB201's stage 1-3 cell convolutions at the mini scale (C8,
16x16) with the supernet's batch 64 and the stand-alone trainer's 256, and at the paper scale
(C16, 32x32, batch 64). Each side runs in its own process pinned to one core (`--core`; -1: no
pinning, default threads); medians of `--steps` calls after a warm-up, and of `--rounds`
alternating rounds (PyTorch's times move by up to 1.5x between processes: oneDNN's choices);
GFLOP/s counts the forward's multiply-adds as 2 flops and the gradient as twice the forward.

    python experiments/bench_conv.py --out experiments/results/bench_conv.json
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's jaxnas

SHAPES = {"mini": [(64, 16, 8), (64, 8, 16), (64, 4, 32)],
          "standalone": [(256, 16, 8), (256, 8, 16), (256, 4, 32)],
          "paper": [(64, 32, 16), (64, 16, 32), (64, 8, 64)]}


def median_ms(fn, steps, sync):
    sync(fn())
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        sync(fn())
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def shifted(x):
    """The 9 copies of x `[B, H, W, C]` shifted by a 3x3 window's offsets (zero-padded)."""
    import jax.numpy as jnp

    h, w = x.shape[1:3]
    p = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return [p[:, i:i + h, j:j + w] for i in range(3) for j in range(3)]


def jax_variants():
    import jax.numpy as jnp
    from jax import lax

    from jaxnas.supernet.conv import conv2d

    dn = ("NHWC", "HWIO", "NHWC")

    def nchw(x, w):
        y = lax.conv_general_dilated(jnp.transpose(x, (0, 3, 1, 2)), jnp.transpose(w, (3, 2, 0, 1)),
                                     (1, 1), ((1, 1), (1, 1)),
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return jnp.transpose(y, (0, 2, 3, 1))

    def shift3(x, w):
        width, c = x.shape[2:]
        p = jnp.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
        cols = jnp.concatenate([p[:, :, j:j + width] for j in range(3)], -1)
        return lax.conv_general_dilated(cols, w.reshape(3, 1, 3 * c, -1), (1, 1),
                                        ((1, 1), (0, 0)), dimension_numbers=dn)

    def pair(x, w):
        b, h, width, c = x.shape
        xp = x.reshape(b // 2, 2, h, width, c).transpose(0, 2, 3, 1, 4).reshape(
            b // 2, h, width, 2 * c)
        z = jnp.zeros_like(w)
        wb = jnp.concatenate([jnp.concatenate([w, z], -1), jnp.concatenate([z, w], -1)], -2)
        y = lax.conv_general_dilated(xp, wb, (1, 1), ((1, 1), (1, 1)), dimension_numbers=dn)
        return y.reshape(b // 2, h, width, 2, -1).transpose(0, 3, 1, 2, 4).reshape(b, h, width, -1)

    def im2col(x, w):
        return jnp.concatenate(shifted(x), -1) @ w.reshape(9 * x.shape[-1], -1)

    return {"nested": lambda x, w: conv2d(x, w, impl="nested"),
            "xla": lambda x, w: conv2d(x, w, impl="xla"),
            "nchw": nchw, "shift3": shift3, "pair": pair, "im2col": im2col}


def weight_grads():
    """Ways to compute a 3x3 'same' convolution's weight gradient `[3, 3, C, O]` from x and dy."""
    import jax
    import jax.numpy as jnp

    from jaxnas.supernet.conv import conv_nested

    def nested(x, dy):  # the library's own backward pass; its unused input gradient is dropped
        w = jnp.zeros((3, 3, x.shape[-1], dy.shape[-1]), x.dtype)
        return jax.vjp(conv_nested, x, w)[1](dy)[1]

    def shift9(x, dy):
        dw = jnp.stack([jnp.einsum("bhwc,bhwo->co", s, dy) for s in shifted(x)])
        return dw.reshape((3, 3) + dw.shape[1:])

    def im2col(x, dy):
        dw = jnp.einsum("bhwk,bhwo->ko", jnp.concatenate(shifted(x), -1), dy)
        return dw.reshape(3, 3, x.shape[-1], -1)

    return {"dw_nested": nested, "dw_shift9": shift9, "dw_im2col": im2col}


def run_jax(shapes, steps):
    import jax
    import jax.numpy as jnp

    import jaxnas  # noqa: F401  (its XLA flags, as the library runs)

    out = []
    for b, size, c in shapes:
        keys = jax.random.split(jax.random.key(0), 3)
        x = jax.random.normal(keys[0], (b, size, size, c))
        w = jax.random.normal(keys[1], (3, 3, c, c)) / (3 * c ** 0.5)
        g = jax.random.normal(keys[2], (b, size, size, c))
        variants = jax_variants()
        ref = variants["xla"](x, w)
        for name, f in variants.items():
            err = float(jnp.max(jnp.abs(f(x, w) - ref)) / jnp.max(jnp.abs(ref)))
            if err > 1e-4:
                raise SystemExit(f"bench_conv: {name} differs from XLA's convolution by {err:.1e}")
            fwd = jax.jit(f)
            grad = jax.jit(jax.grad(lambda x, w, f=f: jnp.vdot(f(x, w), g), (0, 1)))
            out.append(dict(side="jax", variant=name, shape=[b, size, c],
                            forward_ms=median_ms(lambda: fwd(x, w), steps, jax.block_until_ready),
                            grad_ms=median_ms(lambda: grad(x, w), steps, jax.block_until_ready)))
        ref = weight_grads()["dw_nested"](x, g)
        for name, f in weight_grads().items():
            err = float(jnp.max(jnp.abs(f(x, g) - ref)) / jnp.max(jnp.abs(ref)))
            if err > 1e-4:
                raise SystemExit(f"bench_conv: {name} differs from dw_nested by {err:.1e}")
            dw = jax.jit(f)
            out.append(dict(side="jax", variant=name, shape=[b, size, c],
                            weight_grad_ms=median_ms(lambda: dw(x, g), steps,
                                                     jax.block_until_ready)))
    return out


def run_torch(shapes, steps):
    import torch
    import torch.nn.functional as F

    if os.environ.get("BENCH_CONV_PINNED") == "1":
        torch.set_num_threads(1)
    torch.manual_seed(0)
    out = []
    for b, size, c in shapes:
        for name, fmt in (("nchw", torch.contiguous_format),
                          ("channels_last", torch.channels_last)):
            x = torch.randn(b, c, size, size).to(memory_format=fmt).requires_grad_()
            w = (torch.randn(c, c, 3, 3) / (3 * c ** 0.5)).to(memory_format=fmt).requires_grad_()
            g = torch.randn(b, c, size, size).to(memory_format=fmt)

            def fwd():
                with torch.no_grad():
                    return F.conv2d(x, w, padding=1)

            def grad():
                return torch.autograd.grad(F.conv2d(x, w, padding=1), (x, w), g)

            out.append(dict(side="torch", variant=name, shape=[b, size, c],
                            forward_ms=median_ms(fwd, steps, lambda v: v),
                            grad_ms=median_ms(grad, steps, lambda v: v),
                            torch=torch.__version__, threads=torch.get_num_threads()))
    return out


def spawn(side, args):
    pin = ["taskset", "-c", str(args.core)] if args.core >= 0 else []
    env = dict(os.environ, BENCH_CONV_PINNED="1" if args.core >= 0 else "0")
    cmd = pin + [sys.executable, __file__, "--worker", side, "--scales", *args.scales,
                 "--steps", str(args.steps)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        print(f"{side}: failed: {lines[-1]}", file=sys.stderr)
        return []
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scales", nargs="+", choices=sorted(SHAPES), default=sorted(SHAPES))
    p.add_argument("--steps", type=int, default=30, help="timed calls per measurement (median)")
    p.add_argument("--rounds", type=int, default=3, help="alternate the two sides this often")
    p.add_argument("--core", type=int, default=0, help="pin each side to this core; -1: no pinning")
    p.add_argument("--worker", choices=("jax", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--out", help="also write the results as JSON here")
    args = p.parse_args()
    shapes = [s for scale in args.scales for s in SHAPES[scale]]
    if args.worker:
        run = run_jax if args.worker == "jax" else run_torch
        print(json.dumps(run(shapes, args.steps)))
        return
    try:
        import torch  # noqa: F401
        sides = ("jax", "torch")
    except ImportError:
        sides = ("jax",)
        print("torch not installed: jaxnas only", file=sys.stderr)
    same = {}  # (side, variant, shape) -> its measurement of every round
    for _ in range(args.rounds):
        for side in sides:
            for r in spawn(side, args):
                same.setdefault((r["side"], r["variant"], tuple(r["shape"])), []).append(r)
    results = []
    for rounds in same.values():
        r = rounds[0]
        for key in ("forward_ms", "grad_ms", "weight_grad_ms"):
            if key in r:
                r[key + "_rounds"] = [q[key] for q in rounds]
                r[key] = float(np.median(r[key + "_rounds"]))
        results.append(r)
    for r in results:
        b, size, c = r["shape"]
        gflop = 2 * b * size * size * 9 * c * c / 1e9
        if "weight_grad_ms" in r:
            r["weight_grad_gflops"] = gflop / r["weight_grad_ms"] * 1e3
            print(f"{str(tuple(r['shape'])):15s} {r['side']:5s} {r['variant']:13s} "
                  f"weight gradient {r['weight_grad_ms']:7.2f} ms "
                  f"({r['weight_grad_gflops']:5.1f} GFLOP/s)", flush=True)
            continue
        r["forward_gflops"] = gflop / r["forward_ms"] * 1e3
        r["grad_gflops"] = 3 * gflop / r["grad_ms"] * 1e3
        print(f"{str(tuple(r['shape'])):15s} {r['side']:5s} {r['variant']:13s} "
              f"forward {r['forward_ms']:7.2f} ms ({r['forward_gflops']:5.1f} GFLOP/s)  "
              f"fwd+grad {r['grad_ms']:7.2f} ms ({r['grad_gflops']:5.1f} GFLOP/s)", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(command=" ".join(["python"] + sys.argv), cpus=os.cpu_count(),
                           core=args.core, rounds=args.rounds, results=results), f, indent=1)


if __name__ == "__main__":
    main()
