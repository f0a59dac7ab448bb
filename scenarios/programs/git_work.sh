#!/bin/sh
# A user's git session, for crashkit's git scenario (scenarios/programs/git_repo.py).
#
#   git_work.sh work      the workload: two commits, a branch update, a `git gc`
#   git_work.sh recover   what a user does after a crash: remove the lock files a killed
#                         git left (its own error message says to), check that every
#                         acknowledged step is still there, then finish the session
#
# Run in the world's root; the repository is repo/. A step is *acknowledged* when its git
# command returned 0: its line ("<step> <commit>") is then appended to `acked` and fsynced,
# so the record survives any crash that comes after it. `recover` first compares the
# repository with that record, before it redoes anything (redoing a lost commit makes the
# same commit again, its dates being fixed), and appends what it finds missing to `lost`.
set -eu
mode=$1
cd repo

ack() {  # step, commit: the step's command returned 0
    [ -n "$2" ] || { echo "git_work.sh: no commit to acknowledge for $1" >&2; exit 1; }
    line="$1 $2"
    grep -qxF "$line" ../acked && return 0
    printf '%s\n' "$line" >> ../acked
    sync ../acked
}

lose() {  # what recovery found missing; written once
    grep -qxF "$1" ../lost 2>/dev/null && return 0
    printf '%s\n' "$1" >> ../lost
    sync ../lost
}

commit_step() {  # step (the commit's message), file, content
    if ! git log --format=%s main 2>/dev/null | grep -qxF "$1"; then
        printf '%s\n' "$3" > "$2"
        git add "$2"
        git diff --cached --quiet || git commit -q -m "$1"
    fi
    ack "$1" "$(git log --format='%H %s' main | awk -v s="$1" '$2 == s { print $1; exit }')"
}

branch_step() {  # `stable` follows main
    [ "$(git rev-parse -q --verify stable || true)" = "$(git rev-parse main)" ] \
        || git branch -f stable main
    ack branch "$(git rev-parse stable)"
}

gc_step() {
    grep -q '^gc ' ../acked || git gc --quiet
    ack gc "$(git rev-parse HEAD)"
}

check_acknowledged() {  # every acknowledged step still holds, before anything is redone
    while read -r step sha; do
        if ! git cat-file -e "$sha^{commit}" 2>/dev/null; then
            lose "$step $sha: commit object missing"
        elif [ "$step" = branch ] && [ "$(git rev-parse -q --verify stable || true)" != "$sha" ]; then
            lose "$step $sha: stable no longer points there"
        elif ! git merge-base --is-ancestor "$sha" main 2>/dev/null; then
            lose "$step $sha: not on main any more"
        fi
    done < ../acked
}

if [ "$mode" = recover ]; then
    # "Another git process seems to be running ... remove the file manually to continue."
    find .git -name '*.lock' -type f -exec rm -f {} +
    check_acknowledged
fi
commit_step c1 a.txt one
commit_step c2 b.txt two
branch_step
gc_step
