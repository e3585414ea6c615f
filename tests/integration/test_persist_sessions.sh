#!/bin/bash
# test_persist_sessions.sh — sessions started with `cellmuxctl session start` (not in the
# config, no backend) are kept in the store and come back with the next daemon: after SIGTERM
# and a start (a new worker), after kill -9 and a start (the same worker, adopted). `session
# stop` forgets one at once (a daemon killed right after, or while the worker is still being
# stopped, does not bring it back); a reload that
# removes one for good (its profile gone) forgets it too, even when the profile returns.
#
#   cellmuxctl ── ctl.sock ── cellmuxd ── store (state_dir/cellmux.db, sessions: origin admin)
#                                 └── cmx-sim0: workers pinned (uplink sim0) and placed
. "$(dirname "$0")/lib.sh"

DB=$T/state/cellmux.db
command -v sqlite3 >/dev/null || die "sqlite3 missing"

sim_up 1
config() { # with-idle2: also [profile idle2]
	{
		daemon_section
		cat <<'EOF2'
[profile idle]
exec=/bin/sleep 100000

[profile stubborn]
exec=/bin/sh -c 'trap "" TERM; exec /bin/sleep 100002'

[session conf]
profile=idle
uplink=sim0

EOF2
		[ "${1:-}" = with-idle2 ] && printf '[profile idle2]\nexec=/bin/sleep 100001\n\n'
	} | make_config
}
field() { ctl --json session show "$1" 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d['$2'])"; }
running() { [ "$(field "$1" state)" = running ]; }
absent() { ! ctl session show "$1" >/dev/null 2>&1; }
names() { ctl --json session list | python3 -c "import json,sys; print(' '.join(sorted(s['name'] for s in json.load(sys.stdin))))"; }
rows() { sqlite3 "$DB" "SELECT name || ':' || origin FROM sessions ORDER BY name" | tr '\n' ' '; }
kill9() {
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
}

config with-idle2
start_daemon
ctl session start --profile idle --name pinned --uplink sim0 >/dev/null || fail "session start pinned"
auto=$(ctl --json session start --profile idle | python3 -c "import json,sys; d=json.load(sys.stdin); d=d[0] if isinstance(d,list) else d; print(d['name'])")
[ -n "$auto" ] || fail "session start (auto-named)"
ctl session start --profile idle2 --name doomed >/dev/null || fail "session start doomed"
check "three admin sessions run ($(names))" wait_for 10 eval 'running pinned && running "$auto" && running doomed'
check "the store holds them, origin admin, and not the configured one ($(rows))" \
	[ "$(rows)" = "$(printf '%s\n' "$auto:1" doomed:1 pinned:1 | LC_ALL=C sort | tr '\n' ' ')" ]

# ---- SIGTERM + start: a new worker each ----
old=$(worker_pid pinned)
check "SIGTERM stops the daemon" stop_daemon
start_daemon
check "after SIGTERM and a start, every admin session is back and running ($(names))" \
	wait_for 10 eval 'running pinned && running "$auto" && running doomed && running conf'
check "the daemon says they were restored" \
	[ "$(grep -c '(started by an admin) restored' "$T/daemon.log")" -eq 3 ]
check "pinned is still on sim0" [ "$(field pinned uplink)" = sim0 ]
check "with a new worker ($old -> $(worker_pid pinned))" [ "$(worker_pid pinned)" != "$old" ]

# ---- kill -9 + start: the same worker, adopted ----
old=$(worker_pid pinned)
old_auto=$(worker_pid "$auto")
kill9
start_daemon
check "after kill -9 and a start, pinned and $auto are back" \
	wait_for 10 eval 'running pinned && running "$auto"'
check "pinned kept its worker ($old), adopted" [ "$(worker_pid pinned)" = "$old" ]
check "$auto kept its worker ($old_auto), adopted" [ "$(worker_pid "$auto")" = "$old_auto" ]
check "nothing started twice: one row per name ($(rows))" \
	[ "$(sqlite3 "$DB" "SELECT count(*) FROM sessions")" -eq 3 ]

# ---- session stop forgets at once ----
ctl session stop pinned || fail "session stop pinned"
check "session stop removes it from the store ($(rows))" \
	eval '! sqlite3 "$DB" "SELECT name FROM sessions" | grep -qx pinned'
kill9
start_daemon
check "a daemon killed right after session stop does not bring it back ($(names))" absent pinned
check "the others are still there" eval 'running "$auto" && running doomed'
# A worker that ignores SIGTERM keeps its stop under way for the 5 s grace: the daemon is killed
# meanwhile. The stop was asked for, so the next daemon must not start it again.
ctl session start --profile stubborn --name stubborn >/dev/null || fail "session start stubborn"
check "stubborn runs" wait_for 10 running stubborn
spid=$(worker_pid stubborn)
ctl session stop stubborn >/dev/null 2>&1 &
STOP_PID=$!
check "the store forgets it as soon as the stop is asked for" \
	wait_for 3 eval '! sqlite3 "$DB" "SELECT name FROM sessions" | grep -qx stubborn'
check "while its worker ($spid) still runs (the stop is under way)" alive "$spid"
kill9
wait $STOP_PID 2>/dev/null
start_daemon
check "a daemon killed while a session stop was under way does not bring it back ($(names))" \
	absent stubborn

# ---- a reload that removes one for good ----
config
ctl reload >/dev/null || fail "reload without profile idle2"
check "reload without its profile removes doomed" wait_for 10 absent doomed
config with-idle2
check "SIGTERM" stop_daemon
start_daemon
check "doomed does not come back, even with its profile back ($(names))" absent doomed
check "$auto does, and conf ($(names))" eval 'running "$auto" && running conf'
check "the store holds only $auto now ($(rows))" [ "$(rows)" = "$auto:1 " ]

check "SIGTERM stops the daemon with status 0" stop_daemon
check "nothing left" nothing_left
