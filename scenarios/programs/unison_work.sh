#!/bin/sh
# unison between two local replicas in batch mode, for crashkit's unison scenario
# (scenarios/programs/unison_sync.py). Run in the world's root; $UNISON (its archives) is
# unison/ in the world.
#
#   unison_work.sh setup     the replicas (replicas.py seed), a first sync that writes the
#                            archives, then each side's edits (replicas.py edit)
#   unison_work.sh work      one `unison one two -batch -auto`
#   unison_work.sh recover   what unison's manual tells a user to do after an interruption:
#                            run it again. If lock files of the interrupted run are left
#                            ("Unison will stop and request manual intervention"), note it
#                            in `intervention-demanded` and run with -ignorelocks, the
#                            documented remedy; exit 2 ("non-fatal failures occurred during
#                            file transfer") leaves the next round to run again
set -u
# One thread: transfers in parallel come in a different order in every run.
sync_replicas() { unison one two -batch -auto -silent -maxthreads 1 "$@"; }

case $1 in
setup)
    mkdir -p unison home
    "$PYTHON" "$REPLICAS" seed && sync_replicas >/dev/null 2>&1 && exec "$PYTHON" "$REPLICAS" edit
    ;;
work)
    sync_replicas
    exit
    ;;
esac
set -- 
for lock in unison/lk*; do
    [ -e "$lock" ] || continue
    grep -qxF "$lock" intervention-demanded 2>/dev/null || echo "$lock" >> intervention-demanded
    set -- -ignorelocks
done
sync_replicas "$@"
status=$?
case $status in
    0|1) ;;
    2) echo "unison_work.sh: unison exited 2 (non-fatal failures): the next round reruns" >&2 ;;
    *) exit $status ;;
esac
