"""Paired differences over seeds: their mean, 95% Student-t interval, and whether it holds 0."""

import numpy as np
from scipy import stats


def mean_ci(diffs, level=0.95):
    """Mean of per-seed differences, its Student-t interval (`ci95`, NaN with one seed) and
    `includes_zero`."""
    d = np.asarray(diffs, float)
    if d.size == 0:
        raise ValueError("mean_ci needs at least one difference")
    half = (stats.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
            if d.size > 1 else float("nan"))
    lo, hi = float(d.mean() - half), float(d.mean() + half)
    return {"mean": float(d.mean()), "ci95": [lo, hi], "includes_zero": bool(lo <= 0 <= hi)}


def format_ci(ci, digits=3):
    """`+m [lo, hi]` of a `mean_ci` result, marked when the interval holds zero."""
    return (f"{ci['mean']:+.{digits}f} [{ci['ci95'][0]:+.{digits}f}, {ci['ci95'][1]:+.{digits}f}]"
            + (" (includes 0)" if ci["includes_zero"] else ""))


def verdict(ci, digits=3):
    """One plain sentence on a `mean_ci` result: whether the interval excludes zero."""
    if not ci["includes_zero"]:
        side = "above" if ci["mean"] > 0 else "below"
        return f"{format_ci(ci, digits)}: the interval lies {side} zero"
    return f"{format_ci(ci, digits)}: the interval includes zero (no measurable difference)"


def diff_row(name, arm, base, digits=2):
    """A markdown row `| name | seeds | per-seed arm - base | mean [95% CI] |` over the seeds
    of both `{seed: value}` dicts; None with fewer than two."""
    seeds = sorted(set(arm) & set(base))
    if len(seeds) < 2:
        return None
    d = [arm[s] - base[s] for s in seeds]
    return (f"| {name} | {','.join(map(str, seeds))} | "
            f"{', '.join(f'{x:+.{digits}f}' for x in d)} | {format_ci(mean_ci(d), digits)} |")
