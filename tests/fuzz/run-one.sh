#!/bin/sh
# run-one.sh SECONDS HARNESS: one libFuzzer harness for SECONDS on its
# own corpus directory, its output in HARNESS.log; one line of what it
# did, or the log's tail and a failure.
t=$2
mkdir -p "$t.corpus" || exit 1
if ! "./$t" -max_total_time="$1" -max_len=70000 -print_final_stats=1 \
    "$t.corpus" 2>"$t.log"; then
	echo "$t: failed"
	tail -50 "$t.log"
	exit 1
fi
echo "$t: $1 s, $(sed -n 's/^stat::number_of_executed_units: *//p' \
    "$t.log") runs"
