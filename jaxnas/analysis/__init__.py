"""Analysis of finished runs: what a reviewer checking a result reads and reruns.

  `stats`       paired differences: mean and 95% Student-t interval over seeds
  `arms`        an arm: a result folder of `seed<S>.final.json` or a folder of seed run dirs
  `paired`      paired comparison of arms on their common cells (`jaxnas compare`)
  `tables`      per-seed tables: every method's ranking and found cell; ranking over epochs
  `plots`       per-seed lines (paired arms), Kendall's tau over epochs (matplotlib, Agg)
  `checkpoints` the train state at every stored epoch boundary of a run
  `shrunk`      quality of an ABS-shrunk space against the ground truth
  `gate`        how a trained CLOSE GATE assigns GLOW blocks
  `proxy`       how far a stand-alone table can be trusted: against NB201, seed against seed,
                learning curves, and supernet arms ranked against both (the mini ceiling)

The `experiments/` scripts of the same names are thin command-line callers of these modules.
"""
