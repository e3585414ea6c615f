#!/bin/bash
# test_state_blobs.sh — a worker's state blob (worker.proto StatePut/StateGet) is kept by the
# daemon sealed with AES-256-GCM: it is back for the next worker process, for a worker adopted
# after a daemon kill -9 (its second Welcome) and after a re-exec; the database and its WAL
# never hold its plaintext; a wrong key, or one flipped byte of the stored blob, is refused and
# reported (log line, EBADMSG to the worker), never a crash and never the data; a rotation
# (state_key_previous=) re-seals under the new key; the systemd credential is a key source;
# without a key a put is refused (ENOKEY) and nothing is stored; a key file others can read
# stops the start with a clear error; a removed session's blob is deleted (session stop, or a
# reload without it).
#
#   cellmuxd ── s1: state-worker M1, s2: state-worker M2 (on sim0)
#       └── state/cellmux.db: state_blobs(session, blob = version | nonce | ciphertext | tag)
. "$(dirname "$0")/lib.sh"

SW=$T/state-worker
cp "$BUILD/helpers/state-worker" "$SW" || die "no $BUILD/helpers/state-worker (make builds it)"
DB=$T/state/cellmux.db
M1=cmx-plain-s1-$$-marker
M2=cmx-plain-s2-$$-marker
K1=$T/k1.key
K2=$T/k2.key
head -c 32 /dev/urandom >"$K1"
# The second key as 64 hex digits, the other accepted form.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$K2"
echo >>"$K2"
chmod 600 "$K1" "$K2"
EBADMSG=74
ENOKEY=126

sim_up 1
config() { # state_key= and state_key_previous= lines (may be empty)
	{
		daemon_section
		for l in "$@"; do echo "$l"; done
		echo
		printf '[profile keep1]\nexec=%s %s\nrestart=always\nrestart_sec=100ms\n\n' "$SW" "$M1"
		printf '[profile keep2]\nexec=%s %s\nrestart=always\nrestart_sec=100ms\n\n' "$SW" "$M2"
		for s in ${SESSIONS-s1 s2}; do
			printf '[session %s]\nprofile=keep%s\nuplink=sim0\n\n' "$s" "${s#s}"
		done
	} | make_config
}
log_has() { grep -qF -- "$1" "$T/daemon.log"; }
log_count() { grep -cF -- "$1" "$T/daemon.log"; }
got() { echo "session $1: cmx-state-get found=1 error=0 data=$2"; }
refused() { echo "session $1: cmx-state-get found=0 error=$EBADMSG data="; }
rows() { sqlite3 "$DB" "SELECT count(*) FROM state_blobs WHERE session = '$1'"; }
blob_len() { sqlite3 "$DB" "SELECT length(blob) FROM state_blobs WHERE session = '$1'"; }
no_plaintext() { # marker: in neither the database nor its WAL (grep -c prints 0 for both)
	local f n
	for f in "$DB" "$DB-wal"; do
		[ -e "$f" ] || continue
		n=$(grep -ac -- "$1" "$f")
		[ "$n" = 0 ] || { echo "$1 found in $f ($n)"; return 1; }
	done
}

# --- a put, committed, sealed -------------------------------------------------------------
config "state_key=$K1"
start_daemon
check "s1's worker finds nothing stored at first" \
	wait_for 10 log_has "session s1: cmx-state-get found=0 error=0 data="
check "its put is acked (committed)" wait_for 10 log_has "session s1: cmx-state-put error=0"
check "and s2's" wait_for 10 log_has "session s2: cmx-state-put error=0"
check "the store holds one blob for s1, as long as marker + 29 bytes (version, nonce, tag)" \
	[ "$(blob_len s1)" = $((${#M1} + 29)) ]
check "neither marker is in cellmux.db or cellmux.db-wal" eval "no_plaintext $M1 && no_plaintext $M2"

# --- the next worker process of the session gets it --------------------------------------
old=$(worker_pid s1)
kill -KILL "$old"
check "a restarted worker of s1 gets its blob back" wait_for 10 log_has "$(got s1 "$M1")"

# --- daemon kill -9: the adopted worker's second Welcome ----------------------------------
w1=$(worker_pid s1)
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
start_daemon
check "after kill -9 the worker was adopted ($w1)" [ "$(worker_pid s1)" = "$w1" ]
check "and, welcomed again by the new daemon, gets its blob" wait_for 10 log_has "$(got s1 "$M1")"
n=$(log_count "$(got s1 "$M1")")
ready_before=$(log_count "ready:")
ctl daemon reexec >/dev/null || fail "cellmuxctl daemon reexec"
reexeced() { [ "$(log_count "ready:")" -gt "$ready_before" ]; }
check "re-exec: ready again" wait_for 20 reexeced
more() { [ "$(log_count "$(got s1 "$M1")")" -gt "$n" ]; }
check "after a re-exec the blob is still there" wait_for 10 more
check "SIGTERM stops the daemon" stop_daemon
check "a daemon stop keeps the blobs" [ "$(rows s1)" = 1 -a "$(rows s2)" = 1 ]

# --- a wrong key ---------------------------------------------------------------------------
config "state_key=$K2"
start_daemon
check "with another key the blob is refused to the worker (EBADMSG)" wait_for 10 log_has "$(refused s1)"
check "and the daemon says why" log_has "session s1: stored state refused: it does not authenticate"
check "the refused blob is kept" [ "$(rows s1)" = 1 ]
check "no put over it" eval "! log_has 'session s1: cmx-state-put'"
check "the daemon still runs" alive "$DAEMON_PID"
stop_daemon

# --- rotation: K2 current, K1 previous ------------------------------------------------------
config "state_key=$K2" "state_key_previous=$K1"
start_daemon
check "rotation: start-up re-seals s1 under the current key" \
	log_has "session s1: state sealed again under the current key"
check "and s2" log_has "session s2: state sealed again under the current key"
check "s1 gets its blob" wait_for 10 log_has "$(got s1 "$M1")"
stop_daemon
config "state_key=$K2"
start_daemon
check "rotation done: without the previous key s1 still opens" wait_for 10 log_has "$(got s1 "$M1")"
check "and s2" wait_for 10 log_has "$(got s2 "$M2")"
stop_daemon

# --- one flipped byte ------------------------------------------------------------------------
hex=$(sqlite3 "$DB" "SELECT hex(blob) FROM state_blobs WHERE session = 's1'")
# Byte 20 is ciphertext (1 version + 12 nonce before it): flip its lowest bit.
b=$((16#${hex:40:2} ^ 1))
sqlite3 "$DB" "UPDATE state_blobs SET blob = X'${hex:0:40}$(printf %02X $b)${hex:42}' WHERE session = 's1'"
check "one byte of s1's blob differs now" [ "$(sqlite3 "$DB" "SELECT hex(blob) FROM state_blobs WHERE session = 's1'")" != "$hex" ]
start_daemon
check "the altered blob is refused to the worker (EBADMSG)" wait_for 10 log_has "$(refused s1)"
check "and reported in the log" log_has "session s1: stored state refused: it does not authenticate"
check "s2, untouched, opens" wait_for 10 log_has "$(got s2 "$M2")"
stop_daemon

# --- no key: nothing stored; a credential is a key -----------------------------------------
sqlite3 "$DB" "DELETE FROM state_blobs WHERE session = 's1'"
config
start_daemon
check "without a key the daemon says puts are refused" log_has "workers' state puts are refused"
check "s1's put is answered ENOKEY" wait_for 10 log_has "session s1: cmx-state-put error=$ENOKEY"
check "with a clear log line" log_has "session s1: state put refused: no state key"
check "and nothing is stored for s1" [ "$(rows s1)" = 0 ]
stop_daemon
mkdir -m 700 "$T/creds"
cp "$K2" "$T/creds/cellmux-state-key"
chmod 400 "$T/creds/cellmux-state-key"
CREDENTIALS_DIRECTORY=$T/creds start_daemon
check "the cellmux-state-key credential is used" log_has "sealed with the key from $T/creds/cellmux-state-key"
check "s2 opens with it" wait_for 10 log_has "$(got s2 "$M2")"
check "s1 puts again" wait_for 10 log_has "session s1: cmx-state-put error=0"
check "still no plaintext in the database or its WAL" eval "no_plaintext $M1 && no_plaintext $M2"

# --- a removed session's blob goes ---------------------------------------------------------
ctl session stop s2 >/dev/null || fail "cellmuxctl session stop s2"
gone() { [ "$(rows s2)" = 0 ]; }
check "session stop s2 deletes its blob" wait_for 10 gone
check "s1's stays" [ "$(rows s1)" = 1 ]
SESSIONS= config
ctl reload >/dev/null || fail "cellmuxctl reload"
gone1() { [ "$(rows s1)" = 0 ]; }
check "a reload that drops s1 deletes its blob" wait_for 10 gone1
stop_daemon

# --- a key file others may read --------------------------------------------------------------
chmod 644 "$K2"
config "state_key=$K2"
timeout 30 "$CELLMUXD" -c "$T/cellmux.conf" >"$T/bad.log" 2>&1
rc=$?
check "a key file readable by others stops the start (exit $rc)" [ $rc -ne 0 -a $rc -ne 124 ]
check "with a clear error" grep -q "state_key= $K2: refused: the key file must be a regular file owned by root, mode 0600 or 0400" "$T/bad.log"
check "nothing left" nothing_left
