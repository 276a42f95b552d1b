#!/usr/bin/env bash
# Issue 29 item 6 (experiments/darts_tau.py says what and why): 130 DARTS genotypes trained
# stand-alone at the mini scale, then the DARTS mini supernet over 5 paired seeds, each ranked
# on the 100 evaluation genotypes. Core 0: gt_a; once gt_a and gt_b are done, SPOS (5 epochs),
# SPOS at 20 epochs (does a longer-trained supernet rank better?), gt_seed1a, SPOS at 50 epochs
# (DARTS's own search length). Core 1: gt_b, gt_lm (the landmarks' table), landmark, gt_seed1b,
# landmark at 20 epochs (does the regulariser help a supernet that ranks better?). The seed-1
# parts (the first 20 genotypes again: the table's own noise) are 10 a core, so the two cores
# end together. Resumable across machines: it restores the committed progress
# (experiments/results/darts_tau/, experiments/results/paired/darts_*) and trains on; a run
# cut off loses at most its current genotype or supernet.
# Usage: bash experiments/darts_tau.sh DATA [WORK]   (DATA: image folder or tfds:cifar10)
set -euo pipefail
data=${1:?image folder or tfds:cifar10}; work=${2:-workdirs/darts_tau}
results=experiments/results/darts_tau; py=experiments/darts_tau.py
python $py cells "$work"
python $py restore "$results" "$work"
gt() {  # gt CORE PART [key=value ...]: one resumable stand-alone run of genotypes_PART.txt
  local core=$1 part=$2; shift 2
  taskset -c "$core" nice -n 5 jaxnas standalone --config configs/standalone.py:mini,darts \
    --workdir "$work/gt_$part" --data "$data" --archs "$work/genotypes_$part.txt" --resume \
    --no-progress train.on_divergence=record "$@" >> "$work/gt_$part.log" 2>&1
}
arm() {  # arm CORE NAME CONFIG [key=value ...]: one paired arm, 5 seeds, ranked on gt.csv
  local core=$1 name=$2 config=$3; shift 3
  GT="$work/gt.csv" NUM_BATCHES=10 taskset -c "$core" nice -n 5 bash experiments/run_paired.sh \
    "$config" "$name" "$data" "$work/arms" "$@" >> "$work/$name.log" 2>&1
}
# The SPOS arm needs only the evaluation table (gt_a, gt_b), so core 0 starts it as soon as both
# parts end, without waiting for core 1's landmarks; gt_b's exit status is its signal.
rm -f "$work/gt_b.status"
(if gt 1 b; then s=0; else s=1; fi; echo $s > "$work/gt_b.status"
 [ "$(cat "$work/gt_b.status")" = 0 ] && gt 1 lm \
 && arm 1 darts_landmark configs/darts_spos.py:mini,landmark \
   landmark.table="$work/gt_lm/table.csv" && gt 1 seed1b seed=1 \
 && arm 1 darts_landmark_e20 configs/darts_spos.py:mini,landmark \
   landmark.table="$work/gt_lm/table.csv" train.epochs=20) &
(gt 0 a && until [ -e "$work/gt_b.status" ]; do sleep 30; done \
 && [ "$(cat "$work/gt_b.status")" = 0 ] && python $py table "$work" \
 && arm 0 darts_spos configs/darts_spos.py:mini \
 && arm 0 darts_spos_e20 configs/darts_spos.py:mini train.epochs=20 && gt 0 seed1a seed=1 \
 && arm 0 darts_spos_e50 configs/darts_spos.py:mini train.epochs=50) &
wait
python $py save "$work" "$results"
python $py report "$results"
