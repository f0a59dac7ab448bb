#!/bin/sh
# `rclone bisync` between two local folders, for crashkit's rclone scenario
# (scenarios/programs/rclone_bisync.py). Run in the world's root.
#
#   rclone_work.sh setup     the replicas (replicas.py seed), the documented first run
#                            (bisync --resync), then each side's edits (replicas.py edit)
#   rclone_work.sh work      one bisync run of one/ and two/ (listings in work/)
#   rclone_work.sh recover   what rclone's documentation tells a user to do after a crash:
#                            delete a lock file whose process is gone ("If bisync should
#                            crash or hang, the lock file will remain in place and block
#                            any further runs ... Delete the lock file"), run bisync again;
#                            if that run ends critically (exit 2: "requires a --resync to
#                            recover"), note it in `resync-demanded` and do the --resync
set -u
# One transfer and one checker at a time: rclone's parallel copies otherwise come in a
# different order in every run, and crash points must name the same operation each time.
bisync() { rclone bisync one two --workdir work --transfers 1 --checkers 1 "$@"; }

if [ "$1" = setup ]; then
    mkdir -p home work tmp && : > home/rclone.conf
    "$PYTHON" "$REPLICAS" seed && bisync --resync -q && exec "$PYTHON" "$REPLICAS" edit
fi
if [ "$1" = work ]; then
    bisync
    exit
fi
for lock in work/*.lck; do
    [ -e "$lock" ] || continue
    pid=$(cat "$lock" 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "rclone_work.sh: removing the stale lock file $lock (pid ${pid:-none})" >&2
        rm -f "$lock"
    fi
done
bisync
status=$?
case $status in
    0) ;;
    1) echo "rclone_work.sh: bisync exited 1 (a rerun may be successful): the next round reruns" >&2 ;;
    2)
        grep -qx "resync demanded" resync-demanded 2>/dev/null || echo "resync demanded" >> resync-demanded
        bisync --resync || exit $?
        ;;
    *) exit $status ;;
esac
