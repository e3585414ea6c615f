# backend_lib.sh — shared by the backend link tests (sourced after lib.sh): a throwaway CA and
# server certificates (good, self-signed, wrong name, expired), the reference backend on
# loopback, the echo worker, and the [backend] section pointing cellmuxd at it.
BACKEND=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tools/cellmux-backend
ECHO=$T/cellmux-echo
cp "$BUILD/workers/cellmux-echo" "$ECHO"
BACKEND_PID=
BACKEND_PORT=$((20000 + RANDOM % 20000))
STATE=$T/state
CLEANUP_EXTRA+=("stop_backend")
# No carrier is needed (the link runs over loopback in the host namespace, workers only use their
# control socket), so these tests bring up no sim and must not take down another run's.
SIM=true
# One veth end per run becomes the uplink; names unique per run.
UPLINK=bk$$
IFACE=vbk$$
uplink_up() {
	ip link add "$IFACE" type veth peer name "${IFACE}p" || die "creating veth $IFACE"
	CLEANUP_EXTRA+=("ip link del ${IFACE}p 2>/dev/null")
}
uplink_section() {
	printf '[uplink %s]\ndriver=netdev\ninterface=%s\naddress=10.250.%d.2/24\n\n' \
		"$UPLINK" "$IFACE" $(($$ % 250))
}
write_config() { { uplink_section; cat; } >"$T/cellmux.conf"; }

# A CA and four server certificates, P-256 for speed. Expired: issued for 2020-01-01..02.
make_certs() {
	local c=$T/pki
	mkdir -p "$c/db/new" && : >"$c/db/index.txt" && echo 01 >"$c/db/serial"
	(
		cd "$c" || exit 1
		key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
		key ca.key
		openssl req -x509 -new -key ca.key -out ca.pem -days 3 -subj /CN=cellmux-test-ca 2>/dev/null
		for n in good wrong expired self; do
			key $n.key
			cn=localhost san="DNS:localhost,IP:127.0.0.1"
			[ $n = wrong ] && cn=wrong.example san="DNS:wrong.example"
			printf 'subjectAltName=%s\n' "$san" >$n.ext
			openssl req -new -key $n.key -out $n.csr -subj "/CN=$cn" 2>/dev/null
		done
		for n in good wrong; do
			openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3 \
				-extfile $n.ext -out $n.pem 2>/dev/null
		done
		openssl req -x509 -key self.key -out self.pem -days 3 -subj /CN=localhost \
			-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
		cat >ca.cnf <<-EOF
		[ca]
		default_ca=d
		[d]
		dir=$c/db
		database=$c/db/index.txt
		new_certs_dir=$c/db/new
		serial=$c/db/serial
		default_md=sha256
		policy=p
		[p]
		commonName=supplied
		EOF
		openssl ca -batch -notext -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
			-out expired.pem -startdate 20200101000000Z -enddate 20200102000000Z \
			-extfile expired.ext 2>/dev/null
	) || die "making certificates"
	for n in ca good wrong expired self; do [ -s "$c/$n.pem" ] || die "certificate $n missing"; done
	echo "secret-token-$RANDOM$RANDOM" >"$T/token"
	echo "wrong-token" >"$T/badtoken"
	chmod 600 "$T/token" "$T/badtoken"
}

start_backend() { # CERT-NAME [extra args...]
	local cert=$1
	shift
	"$BACKEND" --listen "127.0.0.1:$BACKEND_PORT" --cert "$T/pki/$cert.pem" \
		--key "$T/pki/$cert.key" --token-file "$T/token" --log "$T/events.jsonl" "$@" \
		>>"$T/backend.log" 2>&1 &
	BACKEND_PID=$!
	wait_for 10 grep -qs "listening on" "$T/backend.log" || { cat "$T/backend.log"; die "backend not listening"; }
}

stop_backend() {
	[ -n "$BACKEND_PID" ] || return 0
	kill -TERM "$BACKEND_PID" 2>/dev/null
	wait "$BACKEND_PID" 2>/dev/null
	BACKEND_PID=
	# The listening line of the next one must be a new one.
	[ -f "$T/backend.log" ] && sed -i 's/listening on/(was) listening on/' "$T/backend.log"
}

backend_section() { # [token-file]
	# lib.sh's [daemon] keys, plus the store's.
	daemon_section | sed '/^$/d; /^state_dir=/d'
	printf 'state_dir=%s\n' "$STATE"
	[ -n "${OUTBOX_MAX:-}" ] && printf 'outbox_max=%s\n' "$OUTBOX_MAX"
	[ -n "${INBOX_MAX:-}" ] && printf 'inbox_max=%s\n' "$INBOX_MAX"
	echo
	# No metrics listener: its fixed port would collide with other tests' daemons.
	printf '[metrics]\nlisten=off\n\n'
	printf '[backend]\nurl=wss://localhost:%s/gw\nca=%s\ntoken_file=%s\ngateway_id=gw-test\n\n' \
		"$BACKEND_PORT" "$T/pki/ca.pem" "${1:-$T/token}"
}

# The echo worker tells what it saw as cmx- lines on its stdout (--facts), which end up in the
# daemon's log: workers cannot write into the test's directory.
echo_profile() { # extra echo args...
	# The tests count every fact line: no rate limit on the worker's output.
	printf '[profile echo]\nexec=%s --facts %s\nuser=nobody\nrestart=on-failure\nrestart_sec=200ms\nlog_rate_limit_burst=0\n\n' \
		"$ECHO" "$*"
}

events_logged() { wc -l <"$T/events.jsonl" 2>/dev/null || echo 0; }

# Daemons restarted after a kill -9 each write their own log ($T/daemon.N.log): a worker of the
# killed one may still be writing to the old file, which must not be truncated under it.
DAEMON_RUN=1
kill9_daemon_and_restart() {
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_RUN=$((DAEMON_RUN + 1))
	"$CELLMUXD" -c "$T/cellmux.conf" >"$T/daemon.$DAEMON_RUN.log" 2>&1 &
	DAEMON_PID=$!
	wait_for 20 grep -q "ready:" "$T/daemon.$DAEMON_RUN.log" ||
		{ cat "$T/daemon.$DAEMON_RUN.log"; die "daemon not ready after kill -9 ($DAEMON_RUN)"; }
}
# Every daemon's log in order of the runs; workers' cmx- fact lines are found in them wherever
# they stand in a line (raw, or as the daemon relays them).
daemon_logs() {
	cat "$T/daemon.log"
	for i in $(seq 2 "$DAEMON_RUN"); do cat "$T/daemon.$i.log"; done
}
daemon_log_now() { # the running daemon's log
	if [ "$DAEMON_RUN" -eq 1 ]; then echo "$T/daemon.log"; else echo "$T/daemon.$DAEMON_RUN.log"; fi
}
# Each (process, delivery id) the echo workers reported more than once.
handled_twice() { daemon_logs | grep -o "cmx-handled inc=[0-9]* id=[0-9]*" | sort | uniq -d | wc -l; }
deliveries_twice() { daemon_logs | grep -o "cmx-delivery inc=[0-9]* id=[0-9]*" | sort | uniq -d | wc -l; }
