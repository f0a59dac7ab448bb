#!/bin/sh
# A tiny sync engine in POSIX shell, for crashkit's black-box tests.
#
# value.txt follows wanted.txt (the user's edit); state.db keeps value.txt's hash and a
# journal (wal) of the value being applied; each applied value is pushed to a Notion page
# title through the fake remote at $REMOTE. `store.sh sync` first finishes any journaled
# value, then applies wanted.txt if it differs. STORE_BUGS seeds one bug:
#   nowal                   the update is not journaled: a crash after the file write
#                           leaves a stale hash that nothing repairs
#   wal-delete-before-push  the journal entry is deleted before the push: a crash in
#                           between leaves the remote stale for good
set -eu
DB=state.db

sql() { sqlite3 -bail "$DB" "$1"; }
digest() { sha256sum "$1" | cut -c1-64; }

push() {
    page=$(sql "SELECT page FROM config")
    body=$(printf '{"properties":{"title":{"title":[{"text":{"content":"%s"}}]}}}' "$1")
    curl -sS -f -o /dev/null -X PATCH "$REMOTE/v1/pages/$page" \
        -H "Authorization: Bearer $TOKEN" -H "Notion-Version: 2022-06-28" \
        -H "Content-Type: application/json" -d "$body"
}

write_atomic() {
    printf '%s\n' "$1" > value.txt.tmp
    sync value.txt.tmp
    mv value.txt.tmp value.txt
    sync .
}

apply() {
    write_atomic "$1"
    sql "UPDATE item SET hash = '$(digest value.txt)' WHERE id = 1"
    if [ "${STORE_BUGS:-}" = wal-delete-before-push ]; then
        sql "DELETE FROM wal"
        push "$1"
    else
        push "$1"
        sql "DELETE FROM wal"
    fi
}

pending=$(sql "SELECT value FROM wal ORDER BY id LIMIT 1")
if [ -n "$pending" ]; then
    apply "$pending"
fi
wanted=$(cat wanted.txt)
if [ "$wanted" != "$(cat value.txt)" ]; then
    if [ "${STORE_BUGS:-}" = nowal ]; then
        write_atomic "$wanted"
        sql "UPDATE item SET hash = '$(digest value.txt)' WHERE id = 1"
        push "$wanted"
    else
        sql "INSERT INTO wal(value) VALUES ('$wanted')"
        apply "$wanted"
    fi
fi
