# pfmon_offline.sh: sbxd -r prints one JSON object per record of a saved
# pflog or nflog capture.  The captures come from tests/pfmon/mkpcap.py
# (pflog in its three layouts and nflog, in both byte orders, some cut
# by the snap length) with the JSON it expects; a malformed record in
# the middle gives an error object and the rest still decode; an
# unreadable, truncated or foreign file fails with a message.
. "${top_srcdir:-.}/tests/regress/lib.sh"

MKPCAP=$top_srcdir/tests/pfmon/mkpcap.py
F=$T/fixtures
python3 "$MKPCAP" --fixtures "$F" >/dev/null || fail "mkpcap.py --fixtures"
n=0
for p in "$F"/*.pcap; do
	x=${p%.pcap}
	"$SBXD" -r "$p" >"$x.out" 2>"$x.err" || fail "${p##*/}: exit $?"
	[ -s "$x.err" ] && fail "${p##*/}: stderr: $(cat "$x.err")"
	cmp -s "$x.out" "$x.jsonl" ||
	    fail "${p##*/}: $(diff "$x.jsonl" "$x.out" | head -5)"
	# The same through libpcap (a pipe is not mapped).
	"$SBXD" -r - <"$p" | cmp -s - "$x.jsonl" ||
	    fail "${p##*/} on stdin differs"
	n=$((n + 1))
done
[ $n -ge 11 ] || fail "only $n fixtures"
for want in pflog-61 pflog-61-swapped pflog-69 pflog-69-swapped \
    pflog-100 pflog-100-swapped nflog nflog-swapped; do
	[ -f "$F/$want.pcap" ] || fail "no fixture $want"
done

# A larger capture: every record, both layouts' uids, in order.
python3 "$MKPCAP" --linktype nflog --swapped --count 2000 \
    --expect "$T/big.jsonl" "$T/big.pcap" || fail "mkpcap.py nflog"
"$SBXD" -r "$T/big.pcap" | cmp -s - "$T/big.jsonl" || fail "2000 records"

# A malformed record in the middle: its error object, then the rest.
python3 - "$F/pflog-61.pcap" "$T/bad.pcap" <<'EOF2' || fail "bad.pcap"
import struct, sys
d = open(sys.argv[1], "rb").read()
order = "<" if d[:4] == b"\xd4\xc3\xb2\xa1" else ">"
out, off, i = [d[:24]], 24, 0
while off < len(d):
    cap = struct.unpack(order + "I", d[off + 8:off + 12])[0]
    if i == 4:
        junk = bytes([7]) * 40
        out.append(d[off:off + 8] + struct.pack(order + "II", 40, 40) + junk)
    out.append(d[off:off + 16 + cap])
    off += 16 + cap
    i += 1
open(sys.argv[2], "wb").write(b"".join(out))
EOF2
"$SBXD" -r "$T/bad.pcap" >"$T/bad.out" || fail "bad.pcap: exit $?"
{
	head -4 "$F/pflog-61.jsonl"
	echo '{"record":5,"error":"pflog: header length 7, want 61, 69 or 100"}'
	tail -n +5 "$F/pflog-61.jsonl"
} >"$T/bad.want"
cmp -s "$T/bad.out" "$T/bad.want" ||
    fail "malformed record: $(diff "$T/bad.want" "$T/bad.out" | head -5)"

# A file cut inside a record: the records before it, then an error.
size=$(wc -c <"$F/nflog.pcap")
head -c $((size - 10)) "$F/nflog.pcap" >"$T/cut.pcap"
"$SBXD" -r "$T/cut.pcap" >"$T/cut.out" 2>"$T/cut.err" &&
    fail "truncated file: exit 0"
grep -q "cut.pcap" "$T/cut.err" || fail "truncated: $(cat "$T/cut.err")"
[ "$(wc -l <"$T/cut.out")" -eq $(($(wc -l <"$F/nflog.jsonl") - 1)) ] ||
    fail "truncated: $(wc -l <"$T/cut.out") records printed"
"$SBXD" -r - <"$T/cut.pcap" >/dev/null 2>"$T/cut.err" &&
    fail "truncated file on stdin: exit 0"
[ -s "$T/cut.err" ] || fail "truncated file on stdin: no message"

# Garbage, a missing file, a header alone, a foreign link type.
head -c 3000 /dev/urandom | tr -d '\324\241' >"$T/garbage"
for f in "$T/garbage" "$T/missing"; do
	"$SBXD" -r "$f" >/dev/null 2>"$T/err" && fail "${f##*/}: exit 0"
	grep -q "sbxd: $f: " "$T/err" || fail "${f##*/}: $(cat "$T/err")"
done
head -c 24 "$F/nflog.pcap" >"$T/empty.pcap"
[ -z "$("$SBXD" -r "$T/empty.pcap")" ] || fail "empty capture printed"
python3 -c 'import struct, sys
sys.stdout.buffer.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0,
    65535, 1) + struct.pack("<IIII", 0, 0, 14, 14) + bytes(14))' \
    >"$T/ether.pcap"
"$SBXD" -r "$T/ether.pcap" >/dev/null 2>"$T/err" && fail "ethernet: exit 0"
grep -q "link type 1 (EN10MB) is not pflog" "$T/err" ||
    fail "ethernet: $(cat "$T/err")"

# -r takes no config and no other option.
"$SBXD" -r "$F/nflog.pcap" -f /nonexistent >/dev/null 2>&1 &&
    fail "-r with -f accepted"
"$SBXD" -r 2>/dev/null && fail "-r without a file accepted"
pass
