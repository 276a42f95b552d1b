"""Paired differences over seeds: their mean, 95% Student-t interval, and whether it holds 0."""

import numpy as np
from scipy import stats


MIN_SEEDS = 5  # the paired protocol's least number of seeds (experiments/README)


def mean_ci(diffs, level=0.95):
    """Mean of per-seed differences, its Student-t interval (`ci95`, NaN with one seed),
    `includes_zero`, the seed count `n` and `all_equal`: every seed's difference the same, so
    the interval has zero width (a discrete metric such as p@top-5 over few seeds), which is
    no certainty."""
    d = np.asarray(diffs, float)
    if d.size == 0:
        raise ValueError("mean_ci needs at least one difference")
    half = (stats.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
            if d.size > 1 else float("nan"))
    lo, hi = float(d.mean() - half), float(d.mean() + half)
    return {"mean": float(d.mean()), "ci95": [lo, hi], "includes_zero": bool(lo <= 0 <= hi),
            "n": int(d.size), "all_equal": bool(d.size > 1 and np.ptp(d) == 0)}


def format_ci(ci, digits=3):
    """`+m [lo, hi]` of a `mean_ci` result, marked when the interval holds zero or has zero
    width."""
    return (f"{ci['mean']:+.{digits}f} [{ci['ci95'][0]:+.{digits}f}, {ci['ci95'][1]:+.{digits}f}]"
            + (" (includes 0)" if ci["includes_zero"] else "")
            + (" (every seed equal)" if ci.get("all_equal") else ""))


def verdict(ci, digits=3):
    """One plain sentence on a `mean_ci` result: whether the interval excludes zero, and what
    weakens it (fewer seeds than the protocol's `MIN_SEEDS`, a zero-width interval)."""
    if not ci["includes_zero"]:
        side = "above" if ci["mean"] > 0 else "below"
        text = f"{format_ci(ci, digits)}: the interval lies {side} zero"
    else:
        text = f"{format_ci(ci, digits)}: the interval includes zero (no measurable difference)"
    n = ci.get("n", MIN_SEEDS)
    if n < MIN_SEEDS:
        text += f"; only {n} seed(s), the protocol asks for {MIN_SEEDS}"
    if ci.get("all_equal"):
        text += "; every seed differs by the same amount, so the interval's zero width says " \
                "nothing of the spread"
    return text


def diff_row(name, arm, base, digits=2):
    """A markdown row `| name | seeds | per-seed arm - base | mean [95% CI] |` over the seeds
    of both `{seed: value}` dicts; None with fewer than two."""
    seeds = sorted(set(arm) & set(base))
    if len(seeds) < 2:
        return None
    d = [arm[s] - base[s] for s in seeds]
    return (f"| {name} | {','.join(map(str, seeds))} | "
            f"{', '.join(f'{x:+.{digits}f}' for x in d)} | {format_ci(mean_ci(d), digits)} |")
