# store.sh: the database is created mode 0600 in WAL mode; a corrupt or
# unusable database stops startup with a clear message and is left as it
# was; the schema version is recorded, with the gateway's columns, its
# accounting table and each sandbox's GitHub columns.
. "${top_srcdir:-.}/tests/regress/lib.sh"

conf_write <<EOF2
EOF2
start_sbxd
[ "$(stat -c %a "$STATE/db/sbxd.db")" = 600 ] || fail "db mode"
stop_sbxd
python3 - "$STATE/db/sbxd.db" <<'EOF2' || fail "db contents"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
assert db.execute("SELECT version FROM schema_version").fetchone()[0] == 11
cols = [r[1] for r in db.execute("PRAGMA table_info(sandboxes)")]
assert {"gateway_port", "providers", "phantom", "repos",
        "push_branches"} <= set(cols), cols
assert db.execute("SELECT count(*) FROM api_usage").fetchone()[0] == 0
EOF2

# Corrupt: refused, untouched.
rm -f "$STATE"/db/sbxd.db*
head -c 8192 /dev/urandom >"$STATE/db/sbxd.db"
cp "$STATE/db/sbxd.db" "$T/copy"
"$SBXD" -d -f "$CONF" 2>"$T/err" && fail "started on a corrupt database"
grep -q "database $STATE/db/sbxd.db is unreadable: file is not a database" \
    "$T/err" || fail "corrupt message: $(cat "$T/err")"
cmp -s "$STATE/db/sbxd.db" "$T/copy" || fail "corrupt database was modified"
[ -e "$SOCK" ] && fail "socket left after failed start"

# The state path is not a directory.
rm -rf "$STATE"
echo x >"$STATE"
"$SBXD" -d -f "$CONF" 2>"$T/err" && fail "started with a file as state"
grep -q "state directory $STATE is not a directory" "$T/err" ||
    fail "state message: $(cat "$T/err")"
pass
