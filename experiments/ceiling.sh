#!/usr/bin/env bash
# The mini ceiling (issue 30 item 3; experiments/README.md section 17): 300 NB201 cells trained
# stand-alone at the mini scale (seed 0), the first 100 again with seed 1 (seed1a after part a
# on core 0; seed1b on core 1 before the rest of part b, so the table's own noise is measured
# before the run ends), and the three pilot cells at 100 epochs (convergence), one pinned
# process per core. Resumable across machines:
# it restores the committed progress (experiments/results/ceiling/) into WORK first, and
# `python experiments/ceiling.py save WORK experiments/results/ceiling` commits it again
# (then `package`, so the shipped table follows: experiments/README.md section 17).
# Usage: bash experiments/ceiling.sh DATA [WORK]   (DATA: image folder or tfds:cifar10)
set -euo pipefail
data=${1:?image folder or tfds:cifar10}; work=${2:-workdirs/ceiling}
results=experiments/results/ceiling
python experiments/ceiling.py cells "$work"
python experiments/ceiling.py restore "$results" "$work"
run() {  # run CORE PART CELLS [key=value ...]
  local core=$1 part=$2 cells=$3; shift 3
  taskset -c "$core" nice -n 5 jaxnas standalone --config configs/standalone.py:mini \
    --workdir "$work/$part" --data "$data" --archs "$work/cells_$cells.txt" --resume \
    --no-progress train.on_divergence=record "$@" >> "$work/$part.log" 2>&1
}
(run 0 seed0_a a && run 0 seed1a seed1a seed=1) &
(run 1 pilot_e100 pilot train.epochs=100 && run 1 seed1b seed1b seed=1 && run 1 seed0_b b) &
wait
