#!/usr/bin/env bash
# The experiments that span sessions, in order, each resumable from its committed progress
# (experiments/README.md section 17): issue 29 item 6 (darts_tau.sh), issue 30 item 4's landmark
# pool (landmark_pool.sh: only once the ceiling's seed 0 holds 100 cells), then the mini ceiling
# (ceiling.sh), so no core idles between them. While the pool still waits, the ceiling is
# watched: once its seed 0 holds the pool's cells it is stopped (SIGTERM: each part saves a
# checkpoint), saved into experiments/results/ceiling/, the pool's arms train, and the ceiling
# goes on from where it stopped. Start it first thing in a session; before the session ends,
# save both (the `save` commands of darts_tau.py and ceiling.py, then ceiling.py `package`: the
# shipped mini table) and commit (with the pool and its arms' finished seeds, once they exist).
# Usage: nohup bash experiments/long_runs.sh DATA > workdirs/long_runs.log 2>&1 &
set -uo pipefail
data=${1:?image folder or tfds:cifar10}
work=workdirs/ceiling; min=${MIN_CELLS:-100}
pool() { bash experiments/landmark_pool.sh "$data" || echo "landmark_pool.sh stopped (exit $?)"; }
mkdir -p workdirs
bash experiments/darts_tau.sh "$data" || echo "darts_tau.sh stopped (exit $?): see workdirs/darts_tau/*.log"
pool
if [ ! -f experiments/results/landmark_pool/trained.csv ]; then
  setsid bash experiments/ceiling.sh "$data" "$work" & ceiling=$!  # its own group, to stop whole
  while kill -0 "$ceiling" 2> /dev/null; do
    sleep 120
    [ "$(python experiments/ceiling.py seed0 "$work")" -ge "$min" ] || continue
    echo "long_runs.sh: the ceiling's seed 0 holds $min cells: stopped for the landmark pool"
    kill -TERM -- "-$ceiling"
    while pgrep -g "$ceiling" > /dev/null; do sleep 5; done
    python experiments/ceiling.py save "$work" experiments/results/ceiling
    pool
    break
  done
  wait "$ceiling" 2> /dev/null
fi
bash experiments/ceiling.sh "$data" "$work"
