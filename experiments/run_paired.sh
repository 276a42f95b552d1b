#!/usr/bin/env bash
# One arm of a paired experiment: train CONFIG with seeds 0-4 (same seeds = same data order,
# initialisation and sampled cells as every other arm), then score each final supernet on 1,000
# non-isomorphic cells x NUM_BATCHES held-out batches of 256 (`jaxnas evaluate --archs 1000`;
# default 4, the earlier arms; 10 = 2,560 images halves the evaluation noise). Keeps each
# seed's metrics log and final report in experiments/results/paired/<name>/, with the command.
# Usage: bash experiments/run_paired.sh CONFIG NAME DATA [WORKDIR_ROOT] [key=value ...]
#   e.g. bash experiments/run_paired.sh configs/nb201_spos.py:mini spos ../shared/data/cifar10-jpeg
# SEEDS="0 1 2 3 4" by default; a finished seed (its report exists) is skipped, an interrupted one
# resumes from its last checkpoint. GT=TABLE.csv ranks each seed against that ground-truth table's
# cells instead (`jaxnas evaluate --gt`; the DARTS space, which ships none, e.g. a `jaxnas
# standalone` table) and trains without in-training ranking.
set -euo pipefail
config=${1:?config file}; name=${2:?result name}; data=${3:?image folder or tfds:cifar10}
root=${4:-runs/paired}; shift $(( $# < 4 ? $# : 4 ))
out=experiments/results/paired/$name
mkdir -p "$out"
pending=0
for seed in ${SEEDS:-0 1 2 3 4}; do [ -f "$out/seed$seed.final.json" ] || pending=1; done
if [ "$pending" = 1 ]; then  # a finished arm keeps the command and commit that made it
  {
    echo "SEEDS=\"${SEEDS:-0 1 2 3 4}\" NUM_BATCHES=${NUM_BATCHES:-4} GT=${GT:-} bash experiments/run_paired.sh $config $name $data $root $*"
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  } > "$out/command.txt"
fi
for seed in ${SEEDS:-0 1 2 3 4}; do
  wd=$root/$name/seed$seed
  if [ ! -f "$out/seed$seed.final.json" ]; then
    if [ -d "$wd/checkpoints" ]; then resume=--resume; else resume=; fi
    if [ -n "${GT:-}" ]; then every=0; cells=(--gt "$GT"); else every=10; cells=(--archs 1000); fi
    jaxnas train --config "$config" --workdir "$wd" --data "$data" --no-progress $resume \
      seed=$seed eval.every_epochs=$every "$@"
    jaxnas evaluate --workdir "$wd" --data "$data" "${cells[@]}" \
      --num-batches "${NUM_BATCHES:-4}" --out "$out/seed$seed.final.json"
  fi
  # a seed finished in another checkout (its report committed) has no workdir here
  if [ -f "$wd/metrics.jsonl" ]; then cp "$wd/metrics.jsonl" "$out/seed$seed.jsonl"; fi
done
