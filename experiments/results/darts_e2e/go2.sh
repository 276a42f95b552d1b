#!/usr/bin/env bash
# The same final training for DARTS-V2 and two uniformly drawn genotypes (context for the found one).
set -euo pipefail
cd /work/wt-e2e
export PYTHONPATH=/work/wt-e2e
R=/work/runs/darts_e2e
D=/work/shared/data/cifar10-jpeg
for name in DARTS_V2 random0 random1; do
  if [ "$name" = DARTS_V2 ]; then arch=(--arch DARTS_V2); else arch=(--arch-file $R/$name.txt); fi
  nice -n 5 python -m jaxnas.cli final --config configs/darts_final.py:mini "${arch[@]}" \
      --workdir $R/final_$name --data $D --no-progress > $R/final_$name.out 2> $R/final_$name.err
  date >> $R/log2.txt
done
echo done >> $R/log2.txt
