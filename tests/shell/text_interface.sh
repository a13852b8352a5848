#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Tests the text interface of /dev/pathstore (docs/semantics.md, "Text interface") from busybox sh,
# with POSIX sh and busybox applets only.
#
#   tests/shell/text_interface.sh          device: $PATHSTORE_DEVICE, default /dev/pathstore
#
# Works in its own subtree /sh-test (removed first and at the end). Prints TAP: "ok N - sh/NAME"
# or "not ok N - sh/NAME: DETAILS" per check, then the plan "1..N", and exits 1 if any check
# failed. Names never contain ": " or " # " (scripts/lib/tally.py splits details and directives
# off there).
#
# Every command is one write(): busybox's echo writes its whole line at once. A failed write makes
# echo fail and print "sh: write error: <strerror>" on stderr, from which the errno is checked.

DEV=${PATHSTORE_DEVICE:-/dev/pathstore}
T=/sh-test
nl='
'
checks=0
failed=0

pass() {
	checks=$((checks + 1))
	echo "ok $checks - sh/$1"
}

fail() {
	checks=$((checks + 1))
	failed=$((failed + 1))
	echo "not ok $checks - sh/$1${2:+: $2}"
}

# vis TEXT: TEXT on one line, each newline shown as \n.
vis() {
	_v=$1
	_o=
	while :; do
		case $_v in
		*"$nl"*)
			_o="$_o${_v%%"$nl"*}\\n"
			_v=${_v#*"$nl"}
			;;
		*) break ;;
		esac
	done
	printf '%s' "$_o$_v"
}

# try COMMAND: writes COMMAND and "\n" to the session (fd 3) in one write(). Returns the write's
# status; $err holds echo's error message ("" on success).
try() {
	err=$(echo "$1" 2>&1 >&3)
}

# try_n COMMAND: the same without the trailing newline.
try_n() {
	err=$(echo -n "$1" 2>&1 >&3)
}

# reply: reads the pending response of the session into $REPLY, exactly (trailing newlines kept).
reply() {
	REPLY=$(cat <&3; echo x)
	REPLY=${REPLY%x}
}

# strerror ERRNO-NAME: the message glibc and musl give for it.
strerror() {
	case $1 in
	EEXIST) echo 'File exists' ;;
	ENOENT) echo 'No such file or directory' ;;
	EINVAL) echo 'Invalid argument' ;;
	ENOTEMPTY) echo 'Directory not empty' ;;
	ENODATA) echo 'No data available' ;;
	ESTALE) echo 'Stale file handle' ;;
	ENOTDIR) echo 'Not a directory' ;;
	*) echo "$1" ;;
	esac
}

# ok_cmd NAME COMMAND: the command succeeds.
ok_cmd() {
	if try "$2"; then
		pass "$1"
	else
		fail "$1" "'$2' failed: $err"
		return 1
	fi
}

# err_cmd NAME COMMAND ERRNO-NAME: the command's write fails with that errno. Only the errno's
# message proves which error it was: a failure whose message echo did not print fails the check.
err_cmd() {
	if try "$2"; then
		fail "$1" "'$2' succeeded, want $3"
		return 1
	fi
	case $err in
	*"$(strerror "$3")"*) pass "$1" ;;
	"") fail "$1" "'$2' failed without an error message (want $3): the errno is unknown" ;;
	*) fail "$1" "'$2' failed with '$err', want $3" ;;
	esac
}

# expect NAME COMMAND RESPONSE: the command succeeds and its response is exactly RESPONSE.
expect() {
	if ! try "$2"; then
		fail "$1" "'$2' failed: $err"
		return 1
	fi
	reply
	if [ "$REPLY" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "'$2' gave '$(vis "$REPLY")', want '$(vis "$3")'"
		return 1
	fi
}

# query COMMAND: runs a command with output and puts its response in $REPLY ("" on failure).
query() {
	REPLY=
	try "$1" && reply
}

# field LINE NAME: the value of NAME=VALUE in a stat or stats line.
field() {
	for _kv in $1; do
		case $_kv in
		"$2="*)
			echo "${_kv#*=}"
			return
			;;
		esac
	done
}

if [ ! -c "$DEV" ] || [ ! -r "$DEV" ] || [ ! -w "$DEV" ]; then
	echo "not ok 1 - sh/$DEV is a readable and writable character device"
	echo "1..1"
	exit 1
fi
exec 3<>"$DEV"

# Start clean: rm -r succeeds, or fails because the subtree is missing (ENOENT, by its message).
if try "rm -r $T"; then
	pass "start from an empty $T"
else
	case $err in
	*"$(strerror ENOENT)"*) pass "start from an empty $T" ;;
	*) fail "start from an empty $T" "rm -r $T: '$err'" ;;
	esac
fi

# --- set and get ---------------------------------------------------------------------------------

ok_cmd "set a value" "set $T/a hello"
expect "get returns the value and a newline" "get $T/a" "hello$nl"
reply
if [ -z "$REPLY" ]; then pass "a read after the response is consumed is end of file"; else
	fail "a read after the response is consumed is end of file" "read '$(vis "$REPLY")'"; fi
exec 4<>"$DEV"
REPLY=$(cat <&4; echo x)
REPLY=${REPLY%x}
if [ -z "$REPLY" ]; then pass "a read with nothing pending is end of file"; else
	fail "a read with nothing pending is end of file" "read '$(vis "$REPLY")'"; fi

expect "a trailing / names the same node" "get $T/a/" "hello$nl"

ok_cmd "set replaces a value" "set $T/a world"
expect "get returns the new value" "get $T/a" "world$nl"

ok_cmd "set a value with spaces" "set $T/sp hello  big   world "
expect "a value keeps its inner and trailing spaces" "get $T/sp" "hello  big   world $nl"
ok_cmd "set a value starting with a space" "set $T/lead  x"
expect "the value is everything after the single space after PATH" "get $T/lead" " x$nl"
ok_cmd "set PATH sets an empty value" "set $T/empty"
expect "get of an empty value is a bare newline" "get $T/empty" "$nl"
ok_cmd "set PATH followed by one space sets an empty value" "set $T/empty2 "
expect "get of that empty value" "get $T/empty2" "$nl"

if try_n "set $T/nonl abc"; then pass "a command without a trailing newline"; else
	fail "a command without a trailing newline" "$err"; fi
expect "its value has no newline added" "get $T/nonl" "abc$nl"

err_cmd "get of a missing node fails with ENOENT" "get $T/missing" ENOENT
err_cmd "get of a node created only as a parent fails with ENODATA" "get $T" ENODATA

# --- responses ------------------------------------------------------------------------------------

if try "get $T/sp"; then
	REPLY=$(cat <&4; echo x)
	REPLY=${REPLY%x}
	if [ -z "$REPLY" ]; then pass "responses belong to the open file"; else
		fail "responses belong to the open file" "another open file read '$(vis "$REPLY")'"; fi
	reply
else
	fail "responses belong to the open file" "get $T/sp: $err"
fi
exec 4>&-

if try "get $T/sp" && try "get $T/a"; then
	reply
	if [ "$REPLY" = "world$nl" ]; then pass "each command replaces the pending response"; else
		fail "each command replaces the pending response" "read '$(vis "$REPLY")'"; fi
else
	fail "each command replaces the pending response" "$err"
fi

if try "get $T/a"; then
	part=$(dd bs=1 count=3 <&3 2>/dev/null)
	reply
	if [ "$part" = "wor" ] && [ "$REPLY" = "ld$nl" ]; then
		pass "a response can be read in pieces"
	else
		fail "a response can be read in pieces" "read '$part' then '$(vis "$REPLY")'"
	fi
else
	fail "a response can be read in pieces" "get $T/a: $err"
fi

# --- create --------------------------------------------------------------------------------------

ok_cmd "create a new node" "create $T/c one"
expect "get after create" "get $T/c" "one$nl"
err_cmd "create of an existing node fails with EEXIST" "create $T/c two" EEXIST
expect "a failed create keeps the value" "get $T/c" "one$nl"
err_cmd "create of a node without a value fails with EEXIST" "create $T x" EEXIST
err_cmd "a failed create sets no value" "get $T" ENODATA

# --- ls ------------------------------------------------------------------------------------------

ok=1
for name in zeta alpha Mid beta a b0; do
	try "set $T/ls/$name v" || ok=0
done
if [ $ok = 1 ]; then pass "create the children to list"; else
	fail "create the children to list" "$err"; fi
sorted="Mid${nl}a${nl}alpha${nl}b0${nl}beta${nl}zeta$nl"
expect "ls lists the children in byte order" "ls $T/ls" "$sorted"
expect "ls of a leaf is empty" "ls $T/a" ""
err_cmd "ls of a missing node fails with ENOENT" "ls $T/missing" ENOENT

# --- stat ----------------------------------------------------------------------------------------

stat_re='version=[0-9]+ child_version=[0-9]+ ctime_ns=[0-9]+ mtime_ns=[0-9]+ children=[0-9]+'
stat_re="$stat_re value_len=[0-9]+ has_value=[01] uid=[0-9]+ mode=[0-3] session=[0-9]+"
query "stat $T/sp"
line=${REPLY%"$nl"}
if [ "$REPLY" = "$line$nl" ] && echo "$line" | grep -Eqx "$stat_re"; then
	pass "stat prints one line in the documented format"
else
	fail "stat prints one line in the documented format" "'$(vis "$REPLY")' $err"
fi
if [ "$(field "$line" has_value)" = 1 ] && [ "$(field "$line" value_len)" = 19 ] &&
	[ "$(field "$line" children)" = 0 ]; then
	pass "stat of a leaf gives has_value, value_len and children"
else
	fail "stat of a leaf gives has_value, value_len and children" "'$line'"
fi
query "stat $T/ls"
line=${REPLY%"$nl"}
if [ "$(field "$line" has_value)" = 0 ] && [ "$(field "$line" value_len)" = 0 ] &&
	[ "$(field "$line" children)" = 6 ]; then
	pass "stat of a parent gives no value and children"
else
	fail "stat of a parent gives no value and children" "'$line' $err"
fi
query "stat $T/empty"
line=${REPLY%"$nl"}
if [ "$(field "$line" has_value)" = 1 ] && [ "$(field "$line" value_len)" = 0 ]; then
	pass "stat an empty value is a value"
else
	fail "stat an empty value is a value" "'$line' $err"
fi

query "stat $T/a"
v1=$(field "${REPLY%"$nl"}" version)
try "set $T/a again"
query "stat $T/a"
v2=$(field "${REPLY%"$nl"}" version)
if [ -n "$v1" ] && [ -n "$v2" ] && [ "$v2" -gt "$v1" ]; then
	pass "stat version increases after a set"
else
	fail "stat version increases after a set" "version '$v1' then '$v2' $err"
fi
err_cmd "stat of a missing node fails with ENOENT" "stat $T/missing" ENOENT

# --- stats ---------------------------------------------------------------------------------------

stats_re='nodes=[0-9]+ bytes=[0-9]+ max_nodes=[0-9]+ max_bytes=[0-9]+ max_value_len=[0-9]+'
stats_re="$stats_re max_path_len=[0-9]+ max_depth=[0-9]+ sequence=[0-9]+ uid_nodes=[0-9]+"
stats_re="$stats_re uid_bytes=[0-9]+ uid_max_nodes=[0-9]+ uid_max_bytes=[0-9]+"
stats_re="$stats_re dev_mode=0[0-7]{3} reserve_nodes=[0-9]+ reserve_bytes=[0-9]+"
stats_re="$stats_re watch_events=[0-9]+ watch_bytes=[0-9]+"
query stats
s1=${REPLY%"$nl"}
if [ "$REPLY" = "$s1$nl" ] && echo "$s1" | grep -Eqx "$stats_re"; then
	pass "stats prints one line in the documented format"
else
	fail "stats prints one line in the documented format" "'$(vis "$REPLY")' $err"
fi
# dev_mode is the mode the module gave the device node (no udev rule has changed it here).
node_mode=$(stat -c %a "$DEV" 2>/dev/null)
dev_mode=$(field "$s1" dev_mode)
if [ -n "$node_mode" ] && [ -n "$dev_mode" ] && [ $((0$node_mode)) = $((dev_mode)) ]; then
	pass "stats dev_mode is the device node's mode"
else
	fail "stats dev_mode is the device node's mode" "'$s1', $DEV has mode '$node_mode'"
fi
if [ "$(field "$s1" sequence)" -ge "$v2" ] 2>/dev/null; then
	pass "stats sequence is at least the latest version"
else
	fail "stats sequence is at least the latest version" "'$s1', latest version '$v2'"
fi
# A new leaf named "bytes" (5 bytes) holding "12345": one more node, 10 more bytes.
try "set $T/bytes 12345"
query stats
s2=${REPLY%"$nl"}
n1=$(field "$s1" nodes) n2=$(field "$s2" nodes)
b1=$(field "$s1" bytes) b2=$(field "$s2" bytes)
q1=$(field "$s1" sequence) q2=$(field "$s2" sequence)
if [ -n "$n1" ] && [ -n "$n2" ] && [ $((n2 - n1)) = 1 ] && [ $((b2 - b1)) = 10 ] &&
	[ "$q2" -gt "$q1" ]; then
	pass "stats a new leaf adds one node and its name and value bytes"
else
	fail "stats a new leaf adds one node and its name and value bytes" "'$s1' then '$s2' $err"
fi

# --- malformed commands --------------------------------------------------------------------------

query stats
before=$REPLY
for c in "frob $T/a" "GET $T/a" "" "get" "get " "set" "rm" "rm -r" "rm -r " "ls" \
	"get sh-test/a" "set sh-test/x v" "rm sh-test/a" "set  $T/dbl v" "get  $T/a" \
	"rm  $T/a" "rm -r  $T" "rm  -r $T" "ls  $T" "stat  $T/a" "create  $T/dbl v" \
	"set $T/x/../y v" "set $T//y v"; do
	err_cmd "malformed command '$c' fails with EINVAL" "$c" EINVAL
done
query stats
if [ -n "$before" ] && [ "$REPLY" = "$before" ]; then
	pass "the malformed commands changed nothing"
else
	fail "the malformed commands changed nothing" "stats '$(vis "$before")' then '$(vis "$REPLY")'"
fi
expect "the value survived the malformed commands" "get $T/a" "again$nl"
err_cmd "no node was created by the malformed commands" "stat $T/dbl" ENOENT

# --- rm ------------------------------------------------------------------------------------------

ok_cmd "rm of a leaf" "rm $T/a"
err_cmd "get after rm fails with ENOENT" "get $T/a" ENOENT
err_cmd "rm of a node with children fails with ENOTEMPTY" "rm $T/ls" ENOTEMPTY
expect "a failed rm keeps the children" "ls $T/ls" "$sorted"
ok_cmd "rm -r of a subtree" "rm -r $T/ls"
err_cmd "stat after rm -r fails with ENOENT" "stat $T/ls" ENOENT
err_cmd "the children are gone too" "get $T/ls/zeta" ENOENT
err_cmd "rm of a missing node fails with ENOENT" "rm $T/ls" ENOENT

# --- coordination: set-if, rm-if, seq, ephemeral, watch -----------------------------------------

ok_cmd "set a node to compare and set" "set $T/cas one"
query "stat $T/cas"
v=$(field "${REPLY%"$nl"}" version)
err_cmd "set-if with another version fails with ESTALE" "set-if $T/cas $((v + 1)) two" ESTALE
expect "a failed set-if keeps the value" "get $T/cas" "one$nl"
ok_cmd "set-if with the node's version replaces the value" "set-if $T/cas $v two words"
expect "set-if set the whole rest of the line" "get $T/cas" "two words$nl"
query "stat $T/cas"
v2=$(field "${REPLY%"$nl"}" version)
err_cmd "rm-if with an old version fails with ESTALE" "rm-if $T/cas $v" ESTALE
ok_cmd "rm-if with the node's version deletes it" "rm-if $T/cas $v2"
err_cmd "the node is gone after rm-if" "stat $T/cas" ENOENT
expect "seq creates the first sequential node" "seq $T/q/item- a" "$T/q/item-0000000000$nl"
expect "seq numbers the next one" "seq $T/q/item- b" "$T/q/item-0000000001$nl"
expect "the sequential nodes hold their values" "get $T/q/item-0000000001" "b$nl"
exec 4<>"$DEV"
if echo "ephemeral $T/lock held" >&4 2>/dev/null; then
	expect "an ephemeral node exists while its file is open" "get $T/lock" "held$nl"
	err_cmd "an ephemeral node cannot have children" "set $T/lock/child x" ENOTDIR
else
	fail "ephemeral creates a node owned by the open file" "the write failed"
fi
exec 4>&-
err_cmd "closing its file removed the ephemeral node" "stat $T/lock" ENOENT
query stats
now=$(field "${REPLY%"$nl"}" sequence)
expect "watch reports a change that already happened" "watch $T/q/item-0000000000 $((now - 4))" \
	"$((now - 3)) created $T/q/item-0000000000$nl"
( sleep 1; echo "set $T/w/x 1" >"$DEV" ) &
expect "watch -r waits for the next change below" "watch -r $T/w $now" "$((now + 1)) created $T/w/x$nl"
wait

# --- clean up ------------------------------------------------------------------------------------

ok_cmd "rm -r $T" "rm -r $T"
err_cmd "$T is gone" "stat $T" ENOENT
exec 3>&-

echo "1..$checks"
if [ "$failed" -ne 0 ]; then
	echo "# $failed of $checks checks failed"
	exit 1
fi
exit 0
