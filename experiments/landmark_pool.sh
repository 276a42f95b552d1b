#!/usr/bin/env bash
# Issue 30 item 4, the cheaper design (experiments/README.md section 17): two landmark arms of 5
# paired seeds whose 30 landmarks a seed come from one pool, the mini ceiling's seed-0 cells,
# ranked by NB201's x-valid accuracy (landmark_pool_nb201) or by the cells' own mini stand-alone
# accuracy (landmark_pool_trained); one arm per core; then `jaxnas compare` pairs them
# (and each with SPOS).
# The pool is written once, when the ceiling's committed seed 0 holds MIN_CELLS (100) cells, into
# experiments/results/landmark_pool/ (committed with the arms), so every seed of both arms, in
# any session, draws from the same pool; until then it only says how many cells there are.
# Resumable: run_paired.sh skips finished seeds and resumes interrupted ones.
# Usage: bash experiments/landmark_pool.sh DATA [WORK]   (DATA: image folder or tfds:cifar10)
set -euo pipefail
data=${1:?image folder or tfds:cifar10}; work=${2:-workdirs/landmark_pool}
pool=experiments/results/landmark_pool; min=${MIN_CELLS:-100}
if [ ! -f "$pool/trained.csv" ]; then
  n=$(python experiments/ceiling.py seed0 experiments/results/ceiling)
  if [ "$n" -lt "$min" ]; then
    echo "landmark_pool.sh: the ceiling's seed 0 holds $n cells; the pool waits for $min"
    exit 0
  fi
  python experiments/ceiling.py landmarks experiments/results/ceiling "$pool"
fi
arm() {  # arm CORE TRUTH
  taskset -c "$1" nice -n 5 env NUM_BATCHES=10 bash experiments/run_paired.sh \
    configs/nb201_landmark.py:mini "landmark_pool_$2" "$data" "$work" \
    "landmark.table=$pool/$2.csv" >> "$work/$2.log" 2>&1
}
mkdir -p "$work"
arm 0 nb201 & first=$!
arm 1 trained & second=$!
failed=0; wait $first || failed=1; wait $second || failed=1
if [ "$failed" = 1 ]; then echo "landmark_pool.sh: an arm stopped: see $work/*.log"; exit 1; fi
P=experiments/results/paired
# against NB201 x-valid; against the pool's own mini table, on the pool cells no seed drew as a
# landmark; and both arms against the SPOS base of the same seeds, cells and images
jaxnas compare $P/landmark_pool_trained --base $P/landmark_pool_nb201 \
  --out $P/landmark_pool_trained/compare.json
jaxnas compare $P/landmark_pool_trained --base $P/landmark_pool_nb201 --gt "$pool/trained.csv" \
  --out $P/landmark_pool_trained/compare_mini.json
jaxnas compare $P/landmark_pool_nb201 $P/landmark_pool_trained --base $P/spos_2560 \
  --out "$pool/compare_vs_spos.json"
