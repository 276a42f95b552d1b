#!/usr/bin/env bash
# Train one config with seeds 0, 1, 2 and keep each run's metrics log (per-epoch loss, time and,
# every eval.every_epochs, the ranking metrics of 200 fixed non-isomorphic cells) as
# experiments/results/<name>/seed<S>.jsonl, with the command and commit in command.txt.
# Usage: bash experiments/run_seeds.sh CONFIG NAME DATA [WORKDIR_ROOT] [key=value ...]
#   e.g. bash experiments/run_seeds.sh configs/nb201_spos.py:mini spos_mini ../shared/data/cifar10-jpeg
set -euo pipefail
config=${1:?config file}; name=${2:?result name}; data=${3:?image folder or tfds:cifar10}
root=${4:-runs/$name}; shift $(( $# < 4 ? $# : 4 ))
out=experiments/results/$name
mkdir -p "$out"
{
  echo "bash experiments/run_seeds.sh $config $name $data $root $*"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} > "$out/command.txt"
for seed in 0 1 2; do
  jaxnas train --config "$config" --workdir "$root/seed$seed" --data "$data" --no-progress \
    seed=$seed "$@"
  cp "$root/seed$seed/metrics.jsonl" "$out/seed$seed.jsonl"
done
