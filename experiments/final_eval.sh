#!/usr/bin/env bash
# Score the final supernet of every seed of some runs on a larger sample than the in-training
# evaluation (default 1000 non-isomorphic cells, 4 held-out batches of 256): less evaluation noise
# for the final comparison. Writes experiments/results/final_eval/<name>_seed<S>.json.
# Usage: bash experiments/final_eval.sh WORKDIR_ROOT DATA NAME [NAME ...]
#   e.g. bash experiments/final_eval.sh runs ../shared/data/cifar10-jpeg spos_mini close_mini
set -euo pipefail
root=${1:?root of the run_seeds.sh workdirs}; data=${2:?image folder or tfds:cifar10}; shift 2
archs=${ARCHS:-1000}; batches=${BATCHES:-4}
out=experiments/results/final_eval
mkdir -p "$out"
echo "ARCHS=$archs BATCHES=$batches bash experiments/final_eval.sh $root $data $*" > "$out/command.txt"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >> "$out/command.txt"
for name in "$@"; do
  for seed in 0 1 2; do
    jaxnas evaluate --workdir "$root/$name/seed$seed" --data "$data" --archs "$archs" \
      --num-batches "$batches" --out "$out/${name}_seed$seed.json"
  done
done
