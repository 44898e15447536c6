# pfmon_tcpdump.sh: sbxd -r and tcpdump -n -e -r agree on every field
# tcpdump prints (addresses, ports, protocol; for pflog the rule number,
# ruleset, action, reason, direction and interface), for pflog in its
# three layouts and nflog, in both byte orders and cut by the snap
# length.  The comparison is tests/pfmon/tcpdump_cmp.py.
. "${top_srcdir:-.}/tests/regress/lib.sh"

command -v tcpdump >/dev/null 2>&1 || skip "tcpdump not installed"
F=$T/fixtures
python3 "$top_srcdir/tests/pfmon/mkpcap.py" --fixtures "$F" >/dev/null ||
    fail "mkpcap.py --fixtures"
python3 "$top_srcdir/tests/pfmon/mkpcap.py" --linktype pflog --layout 100 \
    --count 1000 "$F/many.pcap" || fail "mkpcap.py pflog"
for p in "$F"/*.pcap; do
	x=${p%.pcap}
	"$SBXD" -r "$p" >"$x.out" || fail "${p##*/}: sbxd exit $?"
	tcpdump -n -e -r "$p" >"$x.td" 2>"$x.tderr" ||
	    fail "${p##*/}: tcpdump: $(cat "$x.tderr")"
	python3 "$top_srcdir/tests/pfmon/tcpdump_cmp.py" "$x.out" "$x.td" \
	    >"$x.cmp" || fail "${p##*/}: $(cat "$x.cmp")"
	echo "${p##*/}: $(tail -1 "$x.cmp")"
done
pass
