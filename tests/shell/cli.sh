#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Tests the `pathstore` command line as a script uses it (docs/cli.md): exit status by class,
# messages in the store's terms, the version `set` prints, NUL-separated and JSON output, `ls -R`,
# `tree --json`, times in `stat`, durations, `txn --json` with binary values, 128+N for a
# signalled command under `set --ephemeral`, completions and the man page. POSIX sh and busybox
# applets only, as root in the guest.
#
#   tests/shell/cli.sh        pathstore from $PATH; device: $PATHSTORE_DEVICE, default /dev/pathstore
#
# Works in its own subtree /cli-test (removed first and at the end). Prints "ok - cli/NAME" or
# "not ok - cli/NAME: DETAILS" per check ($CLI_TEST_PREFIX replaces "cli", for a second run under
# other module parameters), then "1..N", and exits 1 if any check failed. Names never
# contain ": " (scripts/test.sh splits the details off there).

export PATHSTORE_DEVICE="${PATHSTORE_DEVICE:-/dev/pathstore}"
T=/cli-test
nl='
'
prefix=${CLI_TEST_PREFIX:-cli}
checks=0
failed=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

pass() {
	checks=$((checks + 1))
	echo "ok - $prefix/$1"
}

fail() {
	checks=$((checks + 1))
	failed=$((failed + 1))
	echo "not ok - $prefix/$1${2:+: $2}"
}

# vis TEXT: TEXT on one line, each newline shown as \n.
vis() {
	printf '%s\n' "$1" | sed ':a;N;$!ba;s/\n/\\n/g'
}

# run COMMAND...: runs COMMAND; $out is its standard output (trailing newlines removed), $err its
# standard error, $rc its exit status.
run() {
	out=$("$@" 2>"$tmp/err")
	rc=$?
	err=$(cat "$tmp/err")
}

# expect NAME STATUS STDOUT STDERR COMMAND...: COMMAND exits with STATUS and prints exactly
# STDOUT and STDERR (without trailing newlines); "*" accepts any STDOUT or STDERR.
expect() {
	_name=$1 _rc=$2 _out=$3 _err=$4
	shift 4
	run "$@"
	if [ "$rc" != "$_rc" ]; then
		fail "$_name" "exit status $rc, expected $_rc (stderr: $(vis "$err"))"
	elif [ "$_out" != "*" ] && [ "$out" != "$_out" ]; then
		fail "$_name" "stdout [$(vis "$out")], expected [$(vis "$_out")]"
	elif [ "$_err" != "*" ] && [ "$err" != "$_err" ]; then
		fail "$_name" "stderr [$(vis "$err")], expected [$(vis "$_err")]"
	else
		pass "$_name"
	fi
}

# is NAME ACTUAL EXPECTED
is() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got [$(vis "$2")], expected [$(vis "$3")]"; fi
}

# matches NAME TEXT PATTERN: TEXT matches the extended regular expression PATTERN (grep -E, whole
# text on one line).
matches() {
	if printf '%s\n' "$2" | grep -Eq "$3"; then pass "$1"; else fail "$1" "[$(vis "$2")] does not match /$3/"; fi
}

is_number() {
	case $1 in
	'' | *[!0-9]*) return 1 ;;
	*) return 0 ;;
	esac
}

if ! command -v pathstore >/dev/null; then
	fail "pathstore is on PATH" "not found"
	echo "1..$checks"
	exit 1
fi
pathstore rm -r "$T" 2>/dev/null
start=$(date +%s)

# --- set prints the version ------------------------------------------------------------------------

run pathstore set "$T/a" one
v=$out
if [ "$rc" = 0 ] && is_number "$v"; then pass "set prints the new version"; else fail "set prints the new version" "rc $rc, [$(vis "$out")] $err"; fi
if [ "$rc" = 7 ]; then
	echo "1..$checks"
	echo "# no store at $PATHSTORE_DEVICE: nothing else can be checked"
	exit 1
fi
expect "get --json shows that version" 0 "{\"path\":\"$T/a\",\"value\":\"one\",\"version\":$v}" "" \
	pathstore get --json "$T/a"
run pathstore set "$T/a" two
is "a second set prints a later version" "$((out > v))" 1
v2=$out
expect "set --json prints path and version" 0 "{\"path\":\"$T/a\",\"version\":$((v2 + 1))}" "" \
	pathstore set --json "$T/a" three
expect "set --sequential prints the path created" 0 "$T/q/item-0000000000" "" \
	pathstore set --sequential "$T/q/item-" x
printf 'bin\000ary' | pathstore set "$T/bin" - >/dev/null
is "set - reads a binary value" "$(pathstore get "$T/bin" | od -An -tx1 | tr -s ' ')" " 62 69 6e 00 61 72 79"

# --- exit status by class and messages in the store's terms ---------------------------------------

expect "no such node exits 3" 3 "" "pathstore: get $T/missing: no such node (ENOENT)" \
	pathstore get "$T/missing"
expect "a node without a value exits 3" 3 "" "pathstore: get $T/q: node has no value (ENODATA)" \
	pathstore get "$T/q"
expect "rm of a missing node exits 3" 3 "" "pathstore: delete $T/missing: no such node (ENOENT)" \
	pathstore rm "$T/missing"
expect "set --create of an existing node exits 4" 4 "" "pathstore: create $T/a: node exists (EEXIST)" \
	pathstore set --create "$T/a" x
expect "a version mismatch exits 4 and names the version" 4 "" \
	"pathstore: set $T/a: version mismatch (ESTALE): the node's version is $((v2 + 1)), not $v" \
	pathstore set --if-version "$v" "$T/a" x
expect "rm --if-version mismatch exits 4" 4 "" \
	"pathstore: rm $T/a: version mismatch (ESTALE): the node's version is $((v2 + 1)), not $v" \
	pathstore rm --if-version "$v" "$T/a"
expect "rm of a node with children exits 4" 4 "" "pathstore: delete $T/q: node has children (ENOTEMPTY)" \
	pathstore rm "$T/q"
run pathstore set --if-version "$((v2 + 1))" "$T/a" four
v3=$out
if [ "$rc" = 0 ] && is_number "$v3" && [ "$v3" -gt "$((v2 + 1))" ]; then
	pass "compare-and-set at the right version prints the new version"
else
	fail "compare-and-set at the right version prints the new version" "rc $rc, [$(vis "$out")] $err"
fi
expect "the node has the version set printed" 0 "{\"path\":\"$T/a\",\"value\":\"four\",\"version\":$v3}" "" \
	pathstore get --json "$T/a"
expect "an invalid path exits 1" 1 "" "pathstore: get relative/path: invalid path or argument (EINVAL)" \
	pathstore get relative/path
expect "a usage error exits 2" 2 "" "*" pathstore get --bogus "$T/a"
expect "a missing device exits 7" 7 "" \
	"pathstore: open /nonexistent/pathstore: No such file or directory (ENOENT)" \
	pathstore --device /nonexistent/pathstore get "$T/a"
expect "a device that is not pathstore exits 7" 7 "" \
	"pathstore: handshake /dev/null: not a pathstore device (ENOTTY)" \
	pathstore --device /dev/null get "$T/a"

# Permission and quota, as another user (nobody). With the device root-only (the module's default
# dev_mode 0600) only opening it can be refused; when others may open it (e.g. dev_mode=0666), the
# store's own refusals are checked too: a private node, CAP_SYS_ADMIN, and, if the per-user quota
# is small (uid_max_nodes=16 in the guest tests), the quota.
pathstore set --mode private "$T/private" secret >/dev/null
pathstore set --mode read-write "$T/shared" x >/dev/null
cp "$(command -v pathstore)" "$tmp/pathstore" && chmod 755 "$tmp" "$tmp/pathstore"
nobody() {
	run /usr/bin/setpriv --reuid 65534 --regid 65534 --clear-groups "$tmp/pathstore" "$@"
}
# util-linux's setpriv (busybox's has no --reuid).
if [ ! -x /usr/bin/setpriv ]; then
	fail "no permission exits 5" "no /usr/bin/setpriv to run as another user"
elif [ "$(stat -L -c %a "$PATHSTORE_DEVICE")" != 666 ]; then
	nobody get "$T/private"
	is "no permission to open the device exits 5" "$rc:$err" \
		"5:pathstore: open $PATHSTORE_DEVICE: Permission denied (EACCES)"
else
	nobody get "$T/private"
	is "no permission to read a private node exits 5" "$rc:$err" \
		"5:pathstore: get $T/private: permission denied (EACCES)"
	nobody check
	is "check without CAP_SYS_ADMIN exits 5" "$rc:$err" "5:pathstore: check: needs CAP_SYS_ADMIN (EPERM)"
	nobody set --mode private "$T/shared" y
	is "changing the mode of another user's node exits 5" "$rc:$err" \
		"5:pathstore: set $T/shared: only the node's owner may change its mode (EPERM)"
	nobody stats --json
	quota=$(printf '%s\n' "$out" | sed -n 's/.*"uid_max_nodes":\([0-9]*\).*/\1/p')
	used=$(printf '%s\n' "$out" | sed -n 's/.*"uid_nodes":\([0-9]*\).*/\1/p')
	if is_number "$quota" && is_number "$used" && [ "$quota" -le 64 ]; then
		i=$used
		while [ "$i" -lt "$quota" ]; do
			nobody set "$T/shared/n$i" v
			[ "$rc" = 0 ] || break
			i=$((i + 1))
		done
		nobody set "$T/shared/over" v
		is "a set past the user's quota exits 5" "$rc:$err" "5:pathstore: set $T/shared/over: quota exceeded (EDQUOT)"
	fi
fi

# --- watch timeouts ------------------------------------------------------------------------------

expect "watch --timeout 200ms exits 6" 6 "" "pathstore: watch $T/quiet: no change within 200ms (ETIMEDOUT)" \
	pathstore watch --timeout 200ms "$T/quiet"
expect "a bare timeout is milliseconds" 6 "" "pathstore: watch $T/quiet: no change within 1s 500ms (ETIMEDOUT)" \
	pathstore watch --timeout 1500 "$T/quiet"
expect "a bad duration is a usage error" 2 "" "*" pathstore watch --timeout 5parsecs "$T/quiet"
( sleep 1; pathstore set "$T/w" x >/dev/null ) &
run pathstore watch --timeout 30s --count 1 "$T/w"
wait
matches "watch --timeout 30s reports a change within it" "$rc $out" "^0 [0-9]+ created $T/w\$"

# --- ephemeral nodes: the command's status, 128+N, environment ------------------------------------

expect "set --ephemeral -- COMMAND passes its status on" 42 "" "" \
	pathstore set --ephemeral "$T/e1" x -- sh -c 'exit 42'
expect "a command killed by SIGTERM gives 143" 143 "" "" \
	pathstore set --ephemeral "$T/e2" x -- sh -c 'kill -TERM $$'
expect "a command killed by SIGKILL gives 137" 137 "" "" \
	pathstore set --ephemeral "$T/e3" x -- sh -c 'kill -KILL $$'
expect "a command not found gives 127" 127 "" "*" \
	pathstore set --ephemeral "$T/e4" x -- /nonexistent/command
expect "a command that cannot run gives 126" 126 "" "*" \
	pathstore set --ephemeral "$T/e5" x -- /dev/null
expect "an ephemeral node is gone with its command" 3 "" "*" pathstore stat "$T/e2"
pathstore set --ephemeral "$T/hold" x >"$tmp/hold" &
holder=$!
sleep 1
expect "set --ephemeral without a command holds the node" 0 "x" "" pathstore get "$T/hold"
held=$(pathstore stat --json "$T/hold" | sed -n 's/.*"version":\([0-9]*\).*/\1/p')
kill "$holder"
{ wait "$holder"; } 2>/dev/null
is "set --ephemeral without a command printed the version" "$(cat "$tmp/hold")" "$held"
expect "killing it removes the node" 3 "" "*" pathstore stat "$T/hold"
expect "the command sees the node and its version" 0 "$T/env=y" "" \
	pathstore set --ephemeral "$T/env" y -- sh -c 'printf "%s=%s" "$PATHSTORE_NODE" "$(pathstore get "$PATHSTORE_NODE")"; test "$PATHSTORE_VERSION" -gt 0'
expect "a sequential ephemeral node is named in the environment" 0 "$T/seq/n-0000000000" "" \
	pathstore set --ephemeral --sequential "$T/seq/n-" z -- sh -c 'echo "$PATHSTORE_NODE"'
expect "a child of an ephemeral node exits 4 (ENOTDIR)" 4 "" \
	"pathstore: set $T/eph/child: parent is ephemeral (ENOTDIR)" \
	pathstore set --ephemeral "$T/eph" x -- pathstore set "$T/eph/child" y
expect "ephemeral nodes are removed when their command ends" 3 "" "*" pathstore stat "$T/eph"

# --- NUL-separated and JSON output, ls -R, tree --json ---------------------------------------------

pathstore set "$T/m/x" "line1${nl}line2" >/dev/null
pathstore set "$T/m/y" "" >/dev/null
pathstore set "$T/m/z" z >/dev/null
is "get -z ends each value with NUL" "$(pathstore get -z "$T/m/x" "$T/m/y" "$T/m/z" | tr '\000\n' '|^')" \
	"line1^line2||z|"
is "get of several paths ends each with a newline" "$(pathstore get "$T/m/y" "$T/m/z" | tr '\n' '^')" "^z^"
run pathstore get --json "$T/m/y" "$T/m/z"
matches "get --json of several paths is an array" "$out" \
	"^\[\{\"path\":\"$T/m/y\",\"value\":\"\",\"version\":[0-9]+\},\{\"path\":\"$T/m/z\",\"value\":\"z\",\"version\":[0-9]+\}\]\$"
expect "a failing get of several paths prints nothing" 3 "" "pathstore: get $T/m/nope: no such node (ENOENT)" \
	pathstore get "$T/m/z" "$T/m/nope"
pathstore set "$T/r/b/c" 1 >/dev/null
pathstore set "$T/r/a" 2 >/dev/null
expect "ls lists names" 0 "a${nl}b" "" pathstore ls "$T/r"
expect "ls -R lists every path below" 0 "$T/r/a$nl$T/r/b$nl$T/r/b/c" "" pathstore ls -R "$T/r"
is "ls -R -z ends each path with NUL" "$(pathstore ls -R -z "$T/r" | tr '\000' '|')" "$T/r/a|$T/r/b|$T/r/b/c|"
expect "ls -R --json lists path objects" 0 "[{\"path\":\"$T/r/a\"},{\"path\":\"$T/r/b\"},{\"path\":\"$T/r/b/c\"}]" "" \
	pathstore ls -R --json "$T/r"
expect "ls -R of a leaf lists nothing" 0 "" "" pathstore ls -R "$T/r/a"
expect "ls -R of a missing node exits 3" 3 "" "pathstore: get $T/none: no such node (ENOENT)" \
	pathstore ls -R "$T/none"
printf '\377' | pathstore set "$T/r/b/bin" - >/dev/null
expect "tree --json nests the subtree" 0 \
	"{\"path\":\"$T/r\",\"children\":[{\"name\":\"a\",\"value\":\"2\",\"children\":[]},{\"name\":\"b\",\"children\":[{\"name\":\"bin\",\"value_base64\":\"/w==\",\"children\":[]},{\"name\":\"c\",\"value\":\"1\",\"children\":[]}]}]}" "" \
	pathstore tree --json "$T/r"
expect "tree draws the subtree" 0 "$T/r
├── a = \"2\"
└── b
    ├── bin (1 bytes)
    └── c = \"1\"" "" pathstore tree "$T/r"

# --- stat: times for people, nanoseconds in JSON ---------------------------------------------------

run pathstore stat "$T/a"
ctime=$(printf '%s\n' "$out" | sed -n 's/^ctime: *//p')
matches "stat shows ctime in UTC" "$ctime" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$'
is "stat's ctime is today (UTC)" "${ctime%%T*}" "$(date -u +%Y-%m-%d)"
run pathstore stat --json "$T/a"
ns=$(printf '%s\n' "$out" | sed -n 's/.*"mtime_ns":\([0-9]*\).*/\1/p')
now=$(date +%s)
# Set since this script started (the guest's clock is the kernel's CLOCK_REALTIME).
if is_number "$ns" && [ $((ns / 1000000000)) -ge $((start - 1)) ] && [ $((ns / 1000000000)) -le "$now" ]; then
	pass "stat --json gives mtime_ns in nanoseconds since the epoch"
else
	fail "stat --json gives mtime_ns in nanoseconds since the epoch" "[$(vis "$out")], started $start, now $now"
fi
matches "stat --json has no formatted times" "$out" '"ctime_ns":[0-9]+,"mtime_ns":[0-9]+'

# --- stats: every module parameter ----------------------------------------------------------------

# dev_mode in octal, as the device node has it (no udev rule in this pass), in both outputs.
node_mode=0$(stat -L -c %a "$PATHSTORE_DEVICE")
run pathstore stats
is "stats prints dev_mode in octal, the device's mode" \
	"$rc:$(printf '%s\n' "$out" | sed -n 's/^dev_mode: *//p')" "0:$(printf '%04o' $((node_mode)))"
is "stats prints reserves and the event log's size" "$(printf '%s\n' "$out" | grep -cE \
	'^(reserve_nodes|reserve_bytes|watch_events|watch_bytes): +[0-9]+$')" 4
run pathstore stats --json
matches "stats --json has every parameter, dev_mode as a string" "$out" \
	".*\"dev_mode\":\"$(printf '%04o' $((node_mode)))\",\"reserve_nodes\":[0-9]+,\"reserve_bytes\":[0-9]+,\"watch_events\":[1-9][0-9]*,\"watch_bytes\":[1-9][0-9]*}"

# --- txn: text and JSON (binary values) ------------------------------------------------------------

v=$(pathstore set "$T/t/epoch" 1)
run pathstore txn <<EOF
check $T/t/epoch $v
set $T/t/two two words
EOF
is "txn prints committed VERSION" "$rc $out" "0 committed $((v + 1))"
expect "txn --json sets a binary value" 0 "{\"version\":$((v + 2))}" "" pathstore txn --json <<EOF
[{"op":"check","path":"$T/t/epoch","version":$v},
 {"op":"set","path":"$T/t/bin","value_base64":"AP8K"}]
EOF
is "the binary value is exact" "$(pathstore get "$T/t/bin" | od -An -tx1 | tr -s ' ')" " 00 ff 0a"
expect "a failed txn step exits 4 and names the step" 4 "" \
	"pathstore: txn: step 2 failed: version mismatch (ESTALE), the node's version is $v; nothing was changed" \
	pathstore txn --json <<EOF
[{"op":"set","path":"$T/t/never","value":"x"},{"op":"check","path":"$T/t/epoch","version":$((v + 100))}]
EOF
expect "nothing of the failed txn was applied" 3 "" "*" pathstore get "$T/t/never"
expect "a txn check of a missing node exits 3" 3 "" \
	"pathstore: txn: step 1 (line 1) failed: no such node (ENOENT); nothing was changed" \
	sh -c "echo 'check $T/t/none 1' | pathstore txn"
expect "txn absent of an existing node exits 4" 4 "*" "*" sh -c "echo 'absent $T/t/epoch' | pathstore txn"
expect "malformed txn JSON exits 1" 1 "" "pathstore: txn: step 1: \`set\` needs \`value\` or \`value_base64\`" \
	sh -c "echo '[{\"op\":\"set\",\"path\":\"$T/x\"}]' | pathstore txn --json"

# --- version, completions, man ---------------------------------------------------------------------

run pathstore version
cli=$(printf '%s\n' "$out" | sed -n '1s/^pathstore \([^ ]*\) (ABI \([0-9]*\))$/\1 \2/p')
module=$(printf '%s\n' "$out" | sed -n '2s/^module \([^ ]*\) (ABI \([0-9]*\))$/\1 \2/p')
if [ "$rc" = 0 ] && [ -n "$cli" ] && [ "$cli" = "$module" ]; then
	pass "version: one version and ABI for the program and the module"
else
	fail "version: one version and ABI for the program and the module" "[$(vis "$out")]"
fi
is "--version agrees with version" "$(pathstore --version)" "pathstore ${cli% *}"
run pathstore completions bash
case $rc:$out in 0:*_pathstore*) pass "completions bash" ;; *) fail "completions bash" "rc $rc" ;; esac
run pathstore man
case $rc:$out in 0:*'.TH pathstore 1'*'.SH "EXIT STATUS"'*) pass "man prints pathstore(1)" ;; *) fail "man prints pathstore(1)" "rc $rc" ;; esac

# --- clean up --------------------------------------------------------------------------------------

expect "rm -r $T" 0 "" "" pathstore rm -r "$T"
expect "$T is gone" 3 "" "*" pathstore stat "$T"

echo "1..$checks"
if [ "$failed" -ne 0 ]; then
	echo "# $failed of $checks checks failed"
	exit 1
fi
exit 0
