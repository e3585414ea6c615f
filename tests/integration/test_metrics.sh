#!/bin/bash
# test_metrics.sh — the Prometheus endpoint: /metrics passes promtool on a live scrape, a real
# Prometheus scrapes it and its API has every uplink and session series, values agree with the
# kernel and the daemon, HEAD/404/405 behave, and hostile clients (1,000 connections, slowloris,
# malformed requests, 64 KiB headers, no descriptors left) neither stop the listener nor the
# supervision of sessions. Then: a taken port fails the start cleanly; [::1] and off work.
#
#   probe s1..s4 ── cmx-sim0 / cmx-sim1 ── sim carriers ── httpd 198.18.0.1 (traffic to count)
#   cellmuxd ── 127.0.0.1:$PORT /metrics /healthz ◀── curl, promtool, http_abuse.py (loopback)
#                                                ◀── prometheus 127.0.0.1:$PPORT, scrape 1 s
#                                                       ◀── curl /api/v1/query
. "$(dirname "$0")/lib.sh"

ABUSE=$(cd "$(dirname "$0")" && pwd)/http_abuse.py
command -v promtool >/dev/null && command -v prometheus >/dev/null ||
	die "promtool and prometheus are missing (make deps installs Debian's prometheus)"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
PPORT=$(free_port)
M=http://127.0.0.1:$PORT
SESSIONS="s1 s2 s3 s4"

config() { # listen= value
	{
		daemon_section
		printf '[metrics]\nlisten=%s\n\n' "$1"
		cat <<EOF2
[profile probe]
exec=$PROBE --url http://198.18.0.1/ip --interval 0.5 --timeout 2
user=nobody
restart=on-failure
restart_sec=200ms

EOF2
		for s in $SESSIONS; do printf '[session %s]\nprofile=probe\n\n' "$s"; done
	} | make_config
}

scrape() { curl -sf --max-time 5 "$M/metrics" >"$1"; }
# The value of one series, written exactly as rendered: val FILE 'name{labels}'.
val() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { exit !f }' "$1"; }
reports() { grep -c "session $1 (uplink [a-z0-9]*): status " "$T/daemon.log"; }
all_reported() {
	local s
	for s in $SESSIONS; do [ "$(reports "$s")" -gt 0 ] || return 1; done
}
uplink_of_pid() {
	local ino ns
	ino=$(netns_inode "/proc/$1/ns/net")
	for ns in /run/netns/cmx-*; do
		[ "$(netns_inode "$ns")" = "$ino" ] && { basename "$ns" | sed 's/^cmx-//'; return; }
	done
}
new_worker() { # session old-pid: a worker other than old-pid runs
	local p
	p=$(worker_pid "$1")
	[ -n "$p" ] && [ "$p" != "$2" ]
}
http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
healthz_ok() { [ "$(http_status --max-time 2 "$M/healthz")" = 200 ]; }

sim_up 2
config "127.0.0.1:$PORT"
start_daemon
check "the daemon logs where it serves metrics" \
	grep -q "metrics: serving /metrics and /healthz on http://127.0.0.1:$PORT" "$T/daemon.log"
wait_for 20 all_reported || fail "every session reported before the checks"

# ---- HTTP surface ----
curl -s -D "$T/h" -o "$T/m" "$M/metrics"
check "GET /metrics is 200" grep -q '^HTTP/1.1 200' "$T/h"
check "with the exposition format's content type" \
	grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$T/h"
check "and a content-length equal to the body" \
	[ "$(awk 'tolower($1) == "content-length:" { print $2 + 0 }' "$T/h")" = "$(wc -c <"$T/m")" ]
curl -s -D "$T/h" -o "$T/hz" "$M/healthz"
check "GET /healthz is 200 application/json" \
	sh -c "grep -q '^HTTP/1.1 200' '$T/h' && grep -qi '^content-type: application/json' '$T/h'"
check "/healthz says ok with uplinks up/total ($(cat "$T/hz"))" \
	[ "$(cat "$T/hz")" = '{"status":"ok","uplinks_up":2,"uplinks_total":2}' ]
for path in /nope / /metrics/ /healthz/x /metricsx; do
	check "GET $path is 404" [ "$(http_status "$M$path")" = 404 ]
done
check "POST /nope is 404 (no such resource, whatever the method)" \
	[ "$(http_status -X POST -d x "$M/nope")" = 404 ]
for req in "POST /metrics" "PUT /metrics" "DELETE /healthz" "OPTIONS /metrics" "PATCH /healthz"; do
	set -- $req
	curl -s -D "$T/h" -o /dev/null -X "$1" -d body=1 --max-time 5 "$M$2"
	check "$req is 405 with Allow: GET, HEAD" \
		sh -c "grep -q '^HTTP/1.1 405' '$T/h' && grep -qi '^allow: GET, HEAD' '$T/h'"
done
check "GET /metrics?query=args is still /metrics" [ "$(http_status "$M/metrics?x=1")" = 200 ]
# HEAD then GET on one connection: had HEAD sent a body, it would sit before the second status
# line. Also proves keep-alive.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' >&3
timeout 5 cat <&3 >"$T/pipelined"
exec 3<&-
check "HEAD /healthz has GET's headers and no body; the next response follows at once" \
	python3 - "$T/pipelined" <<'EOF2'
import sys
d = open(sys.argv[1], "rb").read()
head, rest = d.split(b"\r\n\r\n", 1)
sys.exit(not (head.startswith(b"HTTP/1.1 200") and b"content-length: 48" in head.lower()
              and rest.startswith(b"HTTP/1.1 200") and rest.endswith(b'"uplinks_total":2}')))
EOF2
curl -s -I --max-time 5 "$M/metrics" >"$T/h"
check "HEAD /metrics is 200 with a content-length" \
	sh -c "grep -q '^HTTP/1.1 200' '$T/h' && grep -qi '^content-length: [1-9]' '$T/h'"

# ---- the exposition ----
scrape "$T/m1"
m1_at=$(date +%s.%N) # the timestamps below are judged against when this scrape was taken
promtool check metrics <"$T/m1" >"$T/promtool.out" 2>&1
rc=$?
check "promtool check metrics reports nothing on a live scrape (rc $rc)" \
	sh -c "[ $rc = 0 ] && [ ! -s '$T/promtool.out' ]"
[ -s "$T/promtool.out" ] && sed 's/^/    promtool: /' "$T/promtool.out"
for name in cellmux_uplink_up cellmux_build_info cellmux_uplink_state cellmux_uplink_reconnects_total \
	cellmux_uplink_sessions cellmux_uplink_capacity_sessions cellmux_uplink_info \
	cellmux_session_restarts_total cellmux_session_up cellmux_session_state \
	cellmux_session_status_info cellmux_session_status_timestamp_seconds \
	process_resident_memory_bytes process_cpu_seconds_total \
	process_open_fds process_max_fds process_start_time_seconds process_virtual_memory_bytes; do
	check "$name has samples" grep -q "^$name[{ ]" "$T/m1"
done
TRAFFIC="receive_bytes_total transmit_bytes_total receive_packets_total transmit_packets_total"
for f in $TRAFFIC; do
	check "cellmux_uplink_$f and cellmux_session_$f are declared counters" \
		sh -c "grep -q '^# TYPE cellmux_uplink_$f counter' '$T/m1' && grep -q '^# TYPE cellmux_session_$f counter' '$T/m1'"
done
for name in cellmux_uplink_quota_limit_bytes cellmux_uplink_quota_used_bytes cellmux_uplink_signal_dbm; do
	check "$name is declared (no uplink has one here)" grep -q "^# TYPE $name gauge" "$T/m1"
done
# Traffic counters: accounting must run (lib.sh's start_daemon refuses a daemon without it), so
# every uplink and session has all four, and they must rise while the probes fetch.
for f in $TRAFFIC; do
	check "every uplink has cellmux_uplink_$f" [ "$(grep -c "^cellmux_uplink_$f{" "$T/m1")" = 2 ]
	check "every session has cellmux_session_$f" [ "$(grep -c "^cellmux_session_$f{" "$T/m1")" = 4 ]
done
version=$("$CELLMUXD" --version | awk '{ print $2 }')
check "cellmux_build_info carries the version cellmuxd --version prints ($version)" \
	grep -q "^cellmux_build_info{version=\"$version\",libwebsockets=\"[0-9.]*\"} 1$" "$T/m1"

# Values against the kernel's view: where each worker runs, how many per namespace.
capacity=$(awk -F= '$1 == "capacity" { print $2; exit }' "$T/cellmux.conf")
declare -A placed
for s in $SESSIONS; do
	pid=$(worker_pid "$s")
	placed[$s]=$(uplink_of_pid "$pid")
	check "$s runs in cmx-${placed[$s]} and is up on /metrics under that uplink" \
		[ "$(val "$T/m1" "cellmux_session_up{uplink=\"${placed[$s]}\",session=\"$s\"}")" = 1 ]
	check "$s state is running" [ "$(val "$T/m1" \
		"cellmux_session_state{uplink=\"${placed[$s]}\",session=\"$s\",state=\"running\"}")" = 1 ]
	ts=$(val "$T/m1" "cellmux_session_status_timestamp_seconds{uplink=\"${placed[$s]}\",session=\"$s\"}")
	check "$s last status was fresh at the scrape (at ${ts}, scraped at ${m1_at}; one every 0.5 s)" \
		python3 -c "import sys; sys.exit(not 0 <= $m1_at - float('$ts') < 3)"
	check "$s status state is the probe's ok" [ "$(val "$T/m1" \
		"cellmux_session_status_info{uplink=\"${placed[$s]}\",session=\"$s\",state=\"ok\"}")" = 1 ]
done
for u in sim0 sim1; do
	n=0
	for s in $SESSIONS; do [ "${placed[$s]}" = "$u" ] && n=$((n + 1)); done
	check "$u is up" [ "$(val "$T/m1" "cellmux_uplink_up{uplink=\"$u\"}")" = 1 ]
	check "$u has $n sessions, as many workers as its namespace holds" \
		[ "$(val "$T/m1" "cellmux_uplink_sessions{uplink=\"$u\"}")" = "$n" ]
	check "$u capacity is the configured $capacity" \
		[ "$(val "$T/m1" "cellmux_uplink_capacity_sessions{uplink=\"$u\"}")" = "$capacity" ]
	check "$u info names its driver and interface" \
		grep -q "^cellmux_uplink_info{uplink=\"$u\",driver=\"netdev\",interface=\"simwwan${u#sim}\"} 1$" "$T/m1"
done

# Restarts: the supervisor's count, driven from outside by killing workers.
check "s1 has not restarted yet" \
	[ "$(val "$T/m1" "cellmux_session_restarts_total{uplink=\"${placed[s1]}\",session=\"s1\"}")" = 0 ]
for i in 1 2; do
	old=$(worker_pid s1)
	kill -KILL "$old"
	wait_for 10 new_worker s1 "$old" || fail "s1 restarted after kill $i"
done
scrape "$T/m2"
check "two kills of s1's worker make cellmux_session_restarts_total 2" \
	[ "$(val "$T/m2" "cellmux_session_restarts_total{uplink=\"${placed[s1]}\",session=\"s1\"}")" = 2 ]
check "the other sessions still count 0 restarts" \
	[ "$(grep -c '^cellmux_session_restarts_total{.*} 0$' "$T/m2")" = 3 ]

# Process metrics against /proc, read by us.
pm() { val "$T/m3" "$1"; }
scrape "$T/m3"
fds=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
# The scrape's own connection may be counted, and gone by the time we count.
check "process_open_fds ($(pm process_open_fds)) is the daemon's fd count ($fds), +1 -0" \
	[ $(( $(pm process_open_fds) - fds )) -ge 0 -a $(( $(pm process_open_fds) - fds )) -le 1 ]
check "process_max_fds is the daemon's soft RLIMIT_NOFILE" \
	[ "$(pm process_max_fds)" = "$(awk '/^Max open files/ { print $4 }' "/proc/$DAEMON_PID/limits")" ]
rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$DAEMON_PID/status")
check "process_resident_memory_bytes ($(pm process_resident_memory_bytes)) is near VmRSS ($rss)" \
	python3 -c "import sys; sys.exit(not abs($(pm process_resident_memory_bytes) - $rss) < $rss / 4)"
start=$(python3 -c "import os, time
t = float(open('/proc/$DAEMON_PID/stat').read().rsplit(')', 1)[1].split()[19])
print(time.time() - time.clock_gettime(time.CLOCK_BOOTTIME) + t / os.sysconf('SC_CLK_TCK'))")
check "process_start_time_seconds is the daemon's start ($start)" \
	python3 -c "import sys; sys.exit(not abs($(pm process_start_time_seconds) - $start) < 2)"

# Counters never go back, and byte counters move while probes fetch (with accounting).
sleep 2 # probes fetch meanwhile (4 per session): the interval counters are measured over
scrape "$T/m4"
check "no counter went down between two scrapes" python3 - "$T/m3" "$T/m4" <<'EOF2'
import sys
def load(p):
    return {l.split()[0]: float(l.split()[1]) for l in open(p) if l[0] != "#"}
a, b = load(sys.argv[1]), load(sys.argv[2])
bad = [k for k in a if k.split("{")[0].endswith("_total") and k in b and b[k] < a[k]]
if bad:
    print("\n".join("    went down: " + k for k in bad))
sys.exit(bool(bad))
EOF2
for s in $SESSIONS; do
	for dir in receive transmit; do
		k="cellmux_session_${dir}_bytes_total{uplink=\"${placed[$s]}\",session=\"$s\"}"
		check "$s $dir bytes increased while its probe fetched ($(val "$T/m3" "$k") -> $(val "$T/m4" "$k"))" \
			[ "$(val "$T/m4" "$k")" -gt "$(val "$T/m3" "$k")" ]
	done
done
for u in sim0 sim1; do
	k="cellmux_uplink_transmit_bytes_total{uplink=\"$u\"}"
	check "$u transmit bytes increased" [ "$(val "$T/m4" "$k")" -gt "$(val "$T/m3" "$k")" ]
done

# Three readers of every counter, with traffic stopped (the session cgroups frozen): /metrics
# and cellmuxctl --json both go through the daemon's status API; bpftool reads the pinned maps,
# the accounting layer's own word. Each of the two is compared with bpftool, and bpftool before
# and after the reads must agree with itself (else something still moved: try again). Static
# gauges on /metrics must equal cellmuxctl's.
BPFC=$(dirname "$ABUSE")/bpf_counters.py
for s in $SESSIONS; do echo 1 >"$(session_cgroup "$s")/cgroup.freeze"; done
CLEANUP_EXTRA+=("for s in $SESSIONS; do echo 0 >$CGROOT/\$s/cgroup.freeze; done 2>/dev/null")
three_readers() {
	python3 "$BPFC" "$BPFDIR" >"$T/b1" &&
		scrape "$T/c1" &&
		ctl --json uplink list >"$T/uplinks.json" &&
		ctl --json session list >"$T/sessions.json" &&
		python3 "$BPFC" "$BPFDIR" >"$T/b2" &&
		python3 - "$T" "$SESSIONS" >"$T/agree.out" <<'EOF2'
import json, sys
t, sessions = sys.argv[1], sys.argv[2].split()
def load(p):
    return {l.split()[0]: float(l.split()[1]) for l in open(p) if l[0] != "#"}
m = load(t + "/c1")
b1, b2 = json.load(open(t + "/b1")), json.load(open(t + "/b2"))
bad = []
if b1 != b2:
    bad.append("bpftool read twice disagrees: traffic still moved")
FIELDS = (("rx_bytes", "receive_bytes"), ("tx_bytes", "transmit_bytes"),
          ("rx_packets", "receive_packets"), ("tx_packets", "transmit_packets"))
def compare(what, ctl_obj, series):
    k = b1.get(what)
    if k is None:
        bad.append(f"{what}: bpftool has no such name")
        return
    for f, n in FIELDS:
        mv = m.get(series(n))
        if ctl_obj.get(f) != k[f]:
            bad.append(f"{what} {f}: cellmuxctl {ctl_obj.get(f)}, bpftool {k[f]}")
        if mv != k[f]:
            bad.append(f"{what} {f}: /metrics {mv}, bpftool {k[f]}")
ups = json.load(open(t + "/uplinks.json"))
sess = json.load(open(t + "/sessions.json"))
for u in ups:
    l = f'{{uplink="{u["name"]}"}}'
    compare("uplink/" + u["name"], u, lambda n: f"cellmux_uplink_{n}_total" + l)
    for g, n in (("sessions", "cellmux_uplink_sessions"), ("capacity", "cellmux_uplink_capacity_sessions")):
        if m.get(n + l) != u[g]:
            bad.append(f"{n}{l}: /metrics {m.get(n + l)}, cellmuxctl {u[g]}")
for s in sess:
    l = f'{{uplink="{s["uplink"]}",session="{s["name"]}"}}'
    compare("session/" + s["name"], s, lambda n: f"cellmux_session_{n}_total" + l)
    if m.get("cellmux_session_restarts_total" + l) != s["restarts"]:
        bad.append(f"restarts of {s['name']}: /metrics and cellmuxctl differ")
if sorted(s["name"] for s in sess) != sorted(sessions) or len(ups) != 2:
    bad.append(f"cellmuxctl lists {[s['name'] for s in sess]} and {len(ups)} uplinks")
if not all(b1["session/" + s]["tx_packets"] > 0 for s in sessions):
    bad.append("a session without traffic: the comparison would prove little")
print("\n".join("    " + x for x in bad))
sys.exit(bool(bad))
EOF2
}
check "with traffic stopped, /metrics and cellmuxctl --json each equal bpftool on every counter" \
	wait_for 20 three_readers
grep . "$T/agree.out"
for s in $SESSIONS; do echo 0 >"$(session_cgroup "$s")/cgroup.freeze"; done

# ---- a real Prometheus ----
cat >"$T/prometheus.yml" <<EOF2
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: cellmux
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF2
mkdir -p "$T/prometheus"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prometheus" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$T/prometheus.log" 2>&1 &
PROM_PID=$!
CLEANUP_EXTRA+=("kill $PROM_PID 2>/dev/null; wait $PROM_PID 2>/dev/null")
# One line per series: "label=value,... value", job and instance left out.
promq() {
	curl -sf --max-time 5 --data-urlencode "query=$1" "http://127.0.0.1:$PPORT/api/v1/query" |
		python3 -c 'import json, sys
d = json.load(sys.stdin)
assert d["status"] == "success", d
for r in d["data"]["result"]:
    m = r["metric"]
    print(",".join(k + "=" + m[k] for k in sorted(m) if k not in ("job", "instance")), r["value"][1])'
}
prom_up() { [ "$(promq 'up{job="cellmux"}')" = "__name__=up 1" ]; }
prom_has() { [ "$(promq "$1" | wc -l)" -ge "$2" ]; }
check "Prometheus starts" wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$PPORT/-/ready"
check "Prometheus scrapes cellmuxd: up{job=\"cellmux\"} is 1" wait_for 30 prom_up
wait_for 10 prom_has 'cellmux_session_up' 4
promq 'cellmux_uplink_up' >"$T/q.uplinks"
promq 'cellmux_session_up' >"$T/q.sessions"
for u in sim0 sim1; do
	check "Prometheus has cellmux_uplink_up for $u, 1" grep -qx "__name__=cellmux_uplink_up,uplink=$u 1" "$T/q.uplinks"
done
for s in $SESSIONS; do
	check "Prometheus has cellmux_session_up for $s on ${placed[$s]}, 1" \
		grep -qx "__name__=cellmux_session_up,session=$s,uplink=${placed[$s]} 1" "$T/q.sessions"
done
prom_restarts=$(promq "cellmux_session_restarts_total{session=\"s1\"}")
check "Prometheus sees s1's 2 restarts ($prom_restarts)" [ "${prom_restarts##* }" = 2 ]
check "Prometheus's scrapes take under 100 ms" \
	python3 -c "import sys; sys.exit(not float('$(promq 'scrape_duration_seconds{job="cellmux"}' | awk '{ print $2 }')') < 0.1)"
check "Prometheus has the uplink byte counters" prom_has 'cellmux_uplink_receive_bytes_total' 2
check "Prometheus has the session byte counters" prom_has 'cellmux_session_transmit_bytes_total' 4
prom_rate() {
	promq 'rate(cellmux_session_transmit_bytes_total[5s]) > 0' >"$T/q.rate"
	[ "$(wc -l <"$T/q.rate")" = 4 ]
}
check "Prometheus sees every session's transmit bytes rising (rate > 0)" wait_for 15 prom_rate
sed 's/^/    rate: /' "$T/q.rate"
# The Grafana dashboard: valid JSON, a data source variable every panel uses, and every query
# it makes answered by this Prometheus; all with data but quota and signal, which the sim lacks.
dashboard_queries() {
	python3 - "$(dirname "$ABUSE")/../../tools/grafana/cellmux-dashboard.json" "$PPORT" <<'EOF2'
import json, sys, urllib.parse, urllib.request
d = json.load(open(sys.argv[1]))
bad = []
ds = [v for v in d["templating"]["list"] if v["type"] == "datasource"]
if not ds or ds[0]["query"] != "prometheus":
    bad.append("no prometheus data source variable")
exprs = [v["definition"].replace("label_values(", "").rsplit(",", 1)[0]
         for v in d["templating"]["list"] if v["type"] == "query"]
for p in d["panels"]:
    if p["type"] == "row":
        continue
    if p["datasource"].get("uid") != "${" + ds[0]["name"] + "}":
        bad.append(f"panel {p['title']!r} does not use the data source variable")
    exprs += [t["expr"] for t in p["targets"]]
for e in exprs:
    q = (e.replace("$__rate_interval", "5s").replace("$instance", ".*").replace("$job", ".*")
         .replace("$uplink", ".*"))
    url = f"http://127.0.0.1:{sys.argv[2]}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    try:
        r = json.load(urllib.request.urlopen(url, timeout=5))
    except Exception as x:
        bad.append(f"{q}: {x}")
        continue
    if r["status"] != "success":
        bad.append(f"{q}: {r}")
    elif not r["data"]["result"] and "quota" not in q and "signal" not in q:
        bad.append(f"{q}: no data")
print("\n".join("    " + b for b in bad))
sys.exit(bool(bad))
EOF2
}
dashboard_ok() { dashboard_queries >"$T/dashboard.out"; }
check "every query of the Grafana dashboard works against this Prometheus" wait_for 15 dashboard_ok
grep . "$T/dashboard.out"
kill "$PROM_PID"
wait "$PROM_PID" 2>/dev/null

# ---- hostile clients, while the daemon supervises ----
declare -A before
for s in $SESSIONS; do before[$s]=$(reports "$s"); done
fds_before=$(ls "/proc/$DAEMON_PID/fd" | wc -l)
python3 "$ABUSE" "$PORT" concurrent 1000 /metrics /healthz >"$T/a.concurrent" 2>&1 &
a1=$!
python3 "$ABUSE" "$PORT" slow 200 12 >"$T/a.slow" 2>&1 &
a2=$!
python3 "$ABUSE" "$PORT" idle 200 12 >"$T/a.idle" 2>&1 &
a3=$!
python3 "$ABUSE" "$PORT" malformed 10 >"$T/a.malformed" 2>&1 &
a4=$!
old=$(worker_pid s2)
kill -KILL "$old"
check "during the attack, s2's killed worker is restarted" wait_for 10 new_worker s2 "$old"
check "during the attack, /healthz answers within 2 s" healthz_ok
wait $a1 $a2 $a3 $a4
check "1,000 concurrent requests all answered 200 ($(cat "$T/a.concurrent"))" \
	python3 -c "import json, sys; r = json.load(open('$T/a.concurrent')); sys.exit(r['by_status'] != {'200': 1000})"
check "200 slowloris clients all closed by the server within 8 s ($(cat "$T/a.slow"))" \
	python3 -c "import json, sys; r = json.load(open('$T/a.slow')); sys.exit(not (r['closed_by_server'] == 200 and r['slowest_close_s'] <= 8))"
check "200 silent clients all closed by the server within 8 s ($(cat "$T/a.idle"))" \
	python3 -c "import json, sys; r = json.load(open('$T/a.idle')); sys.exit(not (r['closed_by_server'] == 200 and r['slowest_close_s'] <= 8))"
check "every malformed request (64 KiB URI and header among them) was answered or closed ($(cat "$T/a.malformed"))" \
	python3 -c "import json, sys; r = json.load(open('$T/a.malformed')); sys.exit(len(r) < 16 or any(v == 'hung' or v.startswith('garbage') for v in r.values()))"
more_reports() {
	local s
	for s in $SESSIONS; do [ "$(reports "$s")" -gt "${before[$s]}" ] || return 1; done
}
check "every session kept reporting to the daemon" wait_for 5 more_reports
check "after the attack, /healthz answers" healthz_ok
fds_settled() { [ "$(ls "/proc/$DAEMON_PID/fd" | wc -l)" -le $((fds_before + 1)) ]; }
check "no connection is left open in the daemon (fds back to $fds_before)" wait_for 10 fds_settled

# Out of descriptors: accept fails with EMFILE while connections wait. The listener must pause
# and retry (one warning), not spin on a readable socket, and serve them once fds are back.
read -r soft hard < <(awk '/^Max open files/ { print $4, $5 }' "/proc/$DAEMON_PID/limits")
# The limit just above the daemon's two lowest free numbers: new descriptors get numbers under
# it, the ones above stay open. (Not above the highest fd: one opened during the attack, a
# session's kept cgroup file, sits near 1,000, and as many idle clients would not all be there
# at once.) Ten more clients than free numbers, so accept must fail.
free=0 limit=0
while [ $free -lt 2 ]; do
	[ -e "/proc/$DAEMON_PID/fd/$limit" ] || free=$((free + 1))
	limit=$((limit + 1))
done
n_idle=12
prlimit --pid "$DAEMON_PID" --nofile=$limit:"$hard"
python3 "$ABUSE" "$PORT" idle "$n_idle" 12 >"$T/a.emfile" 2>&1 &
a5=$!
check "out of descriptors, the listener warns" \
	wait_for 5 grep -q "metrics: accepting on 127.0.0.1:$PORT: Too many open files; retrying every 100 ms" "$T/daemon.log"
ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
t0=$(ticks)
sleep 2 # a measurement window, not a wait
used=$(($(ticks) - t0))
check "meanwhile the daemon idles instead of spinning ($used ticks in 2 s)" [ "$used" -lt 40 ]
prlimit --pid "$DAEMON_PID" --nofile="$soft:$hard"
wait $a5
check "once descriptors are back the waiting connections are served ($(cat "$T/a.emfile"))" \
	python3 -c "import json, sys; r = json.load(open('$T/a.emfile')); sys.exit(r['closed_by_server'] != $n_idle)"
check "the warning came once, not per attempt" \
	[ "$(grep -c "metrics: accepting on .*retrying" "$T/daemon.log")" = 1 ]
check "and /healthz answers" healthz_ok

check "SIGTERM stops the daemon with status 0" stop_daemon
check "nothing left behind" nothing_left

# ---- start-up: a taken port, IPv6, off ----
# SO_REUSEADDR as cellmuxd's: the port's TIME_WAIT leftovers must not be what fails.
python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $PORT)); s.listen(1); time.sleep(60)" &
holder=$!
CLEANUP_EXTRA+=("kill $holder 2>/dev/null")
wait_for 5 sh -c "ss -ltn | grep -q '127.0.0.1:$PORT '"
"$CELLMUXD" -c "$T/cellmux.conf" >"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_for 20 daemon_gone
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
check "a taken metrics port fails the start (exit $rc)" [ "$rc" = 1 ]
check "with a clear log line" \
	grep -q "metrics: cannot listen on 127.0.0.1:$PORT: Address already in use" "$T/daemon.log"
check "and everything created was removed" nothing_left
kill "$holder"

config "[::1]:$PORT"
start_daemon
check "listen=[::1]:PORT serves /healthz over IPv6" \
	[ "$(http_status -g "http://[::1]:$PORT/healthz")" = 200 ]
check "and not over IPv4" [ "$(http_status "$M/healthz")" = 000 ]
check "SIGTERM stops it" stop_daemon

config off
start_daemon
check "listen=off starts without a listener" grep -q "metrics: disabled" "$T/daemon.log"
check "nothing answers on the port" [ "$(http_status "$M/healthz")" = 000 ]
check "SIGTERM stops it" stop_daemon
check "nothing left behind" nothing_left
