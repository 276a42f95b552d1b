"""Search: find architectures with a trained supernet.

  random     random search over the (masked) space: `search(score_fn, budget, ...)`
  evolution  regularised (aging) evolution: `search(score_fn, budget, ...)`
  history    `Found` (what a strategy returns) and the evaluation record behind it
  result     the result file: found cell, NB201 ground truth and rank, trajectory, plot
  settings   `config.search`: strategy, budget, metric, seed, evolution sizes (defaults)
  workdir    `search_workdir(W, strategy=...)`: search a trained run (`jaxnas search`);
             `strategy="gdas"` reports the cell the `gdas` technique found (`recipe.found`)
  pipeline   `run(config, W)`: train, evaluate and search, resumable (`jaxnas run`)

Strategies are host-side loops over any `score_fn(archs int[n, 6]) -> float[n]` (higher is
better), e.g. `lambda a: score(state, a, "accuracy")` from `jaxnas.train.scorer.make_score`,
and respect a bool `[6, 5]` space mask (e.g. ABS-shrunk). Random search and evolution take a
`space` (`jaxnas.spaces.DARTS`: genotypes `[n, 28]`, masks `[28, 8]`, mutation and sampling
through the `Space` protocol). GDAS, a training technique, is `jaxnas.techniques.gdas`.
"""
