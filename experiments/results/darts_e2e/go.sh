#!/usr/bin/env bash
# DARTS mini end to end: SPOS supernet -> search -> final training of the found genotype.
set -euo pipefail
cd /work/wt-e2e
export PYTHONPATH=/work/wt-e2e
R=/work/runs/darts_e2e
D=/work/shared/data/cifar10-jpeg
echo "commit $(git rev-parse --short HEAD)" > $R/log.txt
date >> $R/log.txt
/usr/bin/time -v nice -n 5 python -m jaxnas.cli run --config configs/darts_spos.py:mini \
    --workdir $R/run --data $D --no-progress > $R/run.out 2> $R/run.err
date >> $R/log.txt
found=$(ls $R/run/search/*.json | grep -v scores- | head -1)
echo "found file $found" >> $R/log.txt
/usr/bin/time -v nice -n 5 python -m jaxnas.cli final --config configs/darts_final.py:mini \
    --arch-file "$found" --workdir $R/final --data $D --no-progress > $R/final.out 2> $R/final.err
date >> $R/log.txt
echo done >> $R/log.txt
