#!/usr/bin/env bash
# The experiments that span sessions, in order, each resumable from its committed progress
# (experiments/README.md section 17): issue 29 item 6 (darts_tau.sh), issue 30 item 4's landmark
# pool arms (landmark_pool.sh), then the mini ceiling (ceiling.sh), so no core idles between
# them. Until the pool was written (2026-12-07) this script also watched the ceiling and stopped
# it at 100 seed-0 cells for the pool; the pool is committed now, so the three run in turn.
# Start it first thing in a session; before the session ends, save (the `save` commands of
# darts_tau.py and ceiling.py, then ceiling.py `package`: the shipped mini table) and commit.
# Usage: nohup bash experiments/long_runs.sh DATA > workdirs/long_runs.log 2>&1 &
set -uo pipefail
data=${1:?image folder or tfds:cifar10}
mkdir -p workdirs
bash experiments/darts_tau.sh "$data" || echo "darts_tau.sh stopped (exit $?): see workdirs/darts_tau/*.log"
bash experiments/landmark_pool.sh "$data" || echo "landmark_pool.sh stopped (exit $?)"
bash experiments/ceiling.sh "$data" workdirs/ceiling
