#!/usr/bin/env bash
# SPOS mini baseline, seeds 0-4, with the code of 9306ff6 (bit-identical SPOS to the composed seam).
set -euo pipefail
cd /work/base9306
export PYTHONPATH=/work/base9306
for seed in 0 1 2 3 4; do
  wd=/work/runs/spos_mini/seed$seed
  if [ ! -f $wd/done ]; then
    rm -rf $wd
    python -m jaxnas.cli train --config configs/nb201_spos_mini.py --workdir $wd --data /work/shared/data/cifar10-jpeg --no-progress seed=$seed eval.every_epochs=10 > $wd.train.log 2>&1 || { mkdir -p $wd; python -m jaxnas.cli train --config configs/nb201_spos_mini.py --workdir $wd --data /work/shared/data/cifar10-jpeg --no-progress --resume seed=$seed eval.every_epochs=10 >> $wd.train.log 2>&1; }
    python -m jaxnas.cli evaluate --workdir $wd --data /work/shared/data/cifar10-jpeg --archs 1000 --num-batches 4 --out $wd/final_1000x1024.json > $wd.eval.log 2>&1
    touch $wd/done
  fi
done
