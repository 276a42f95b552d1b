"""Figures of analysed runs (matplotlib's Agg backend: no display needed).

  `paired`        one panel per arm: each seed's metric, baseline to arm, joined by a line
  `over_epochs`   ranking metrics of the in-training evaluations against the epoch, per seed
                  and their mean (`metrics.jsonl` records with an `eval` entry)
  `tau_groups`    the mean Kendall's tau of groups of runs over epochs, a band of one std
  `learning_curves` stand-alone training: every cell's held-out accuracy over epochs, and how
                  the ranking then agrees with the final one (and a ground truth)
"""

from pathlib import Path

import numpy as np

from jaxnas.analysis.stats import format_ci


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, dpi):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    _pyplot().close(fig)


def paired(base_name, data, path, metric="kendall_tau"):
    """`data`: `{arm: {"rows": compare rows, "summary": {metric: mean_ci}}}`."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(data), figsize=(3.2 * len(data), 3.4), sharey=True,
                             squeeze=False)
    for ax, (name, d) in zip(axes[0], data.items()):
        for r in d["rows"]:
            ax.plot([0, 1], [r[f"base_{metric}"], r[f"arm_{metric}"]], "o-", color="tab:blue")
            ax.annotate(str(r["seed"]), (1.03, r[f"arm_{metric}"]), fontsize=7, va="center")
        s = d["summary"][metric]
        ax.set_title(f"{name}\n{format_ci(s)}", fontsize=9)
        ax.set_xticks([0, 1], [base_name, name], fontsize=8)
        ax.set_xlim(-0.3, 1.3)
    axes[0][0].set_ylabel(f"{metric} (per seed)")
    fig.tight_layout()
    _save(fig, path, 120)


EPOCH_METRICS = (("kendall_tau", "Kendall's tau"), ("sparse_kendall_tau", "sparse tau"),
                 ("p_at_top_5", "P@top-5%"))


def evals(log, names=tuple(m for m, _ in EPOCH_METRICS)):
    """`(epochs, {metric: values})` of the metrics-log records that carry an evaluation."""
    rows = [r for r in log if "eval" in r]
    return (np.array([r["epoch"] for r in rows]),
            {m: np.array([r["eval"].get(m, np.nan) for r in rows], float) for m in names})


def over_epochs(runs, path, shown=EPOCH_METRICS):
    """`runs`: `{name: {seed: metrics log}}`; per metric a panel with every seed's curve (thin)
    and the mean over seeds (thick) of each run."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 3.8), squeeze=False)
    axes = axes[0]
    for color, (name, logs) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"],
                                   runs.items()):
        curves = [evals(log, [m for m, _ in shown]) for log in logs.values()]
        epochs = curves[0][0]
        for ax, (metric, label) in zip(axes, shown):
            values = np.stack([c[1][metric] for c in curves])
            for seed_values in values:
                ax.plot(epochs, seed_values, color=color, alpha=0.25, lw=1)
            ax.plot(epochs, values.mean(0), color=color, lw=2,
                    label=f"{name} (mean of {len(values)} seeds)")
            ax.set_xlabel("epoch")
            ax.set_title(label)
            ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path, 120)


def tau_groups(summary, styles, path, *, baselines=None, ylabel="Kendall's tau vs NB201"):
    """`summary`: `{"group/key": [{"epoch", "mean", "std", "runs"}]}`; `styles[key]` is
    `(line style, label)`, the label's `{n}` filled from `styles["n"]`."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, pts in summary.items():
        group, key = name.split("/")
        x = np.array([p["epoch"] for p in pts])
        m, sd = (np.array([p[k] for p in pts]) for k in ("mean", "std"))
        style, label = styles[key]
        line, = ax.plot(x, m, style, marker=".",
                        label=f"{group}: {label.format(n=styles.get('n'))}, {pts[-1]['runs']} runs")
        ax.fill_between(x, m - sd, m + sd, color=line.get_color(), alpha=0.15, lw=0)
    ax.axhline(0, color="grey", lw=0.5)
    if baselines:
        ax.axhline(baselines["tau_num_params"], color="black", ls=":", lw=1,
                   label="parameter count (no training)")
        if baselines.get("tau_angle_untrained"):
            ax.axhline(np.mean(baselines["tau_angle_untrained"]), color="black", ls="-.", lw=1,
                       label="angle between two untrained initialisations")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path, 130)


def learning_curves(curves, convergence, path, *, truth_label=None,
                    ylabel="held-out accuracy (%)"):
    """Left: each cell's curve `curves[cell] = {epoch: value}` (thin) and their median (thick).
    Right: Kendall's tau at each epoch against the final ranking, and against `truth_label`'s
    where the `convergence` rows (`proxy.convergence`) carry `tau_truth`."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = sorted({e for c in curves.values() for e in c})
    for c in curves.values():
        xs = sorted(c)
        left.plot(xs, [c[e] for e in xs], color="tab:blue", alpha=0.2, lw=0.8)
    full = [c for c in curves.values() if len(c) == len(epochs)]
    if full:
        left.plot(epochs, np.median([[c[e] for e in epochs] for c in full], axis=0),
                  color="tab:blue", lw=2, label=f"median of {len(full)} complete curves")
        left.legend(fontsize=8)
    left.set(xlabel="epoch", ylabel=ylabel, title=f"{len(curves)} networks with a curve")
    x = [r["epoch"] for r in convergence]
    right.plot(x, [r["tau_final"] for r in convergence], "o-",
               label="vs the final epoch's ranking")
    if convergence and "tau_truth" in convergence[0]:
        right.plot(x, [r["tau_truth"] for r in convergence], "s--", label=f"vs {truth_label}")
    right.set(xlabel="epoch", ylabel="Kendall's tau", title="ranking at each epoch")
    right.set_ylim(min([0.0] + [r.get("tau_truth", 0.0) for r in convergence]) - 0.05, 1.05)
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path, 120)
