#!/usr/bin/env bash
# Runs the benchmarks of bench/BENCHMARKS.md on this machine and prints each figure. Every figure
# is a ratio of things measured side by side in this one run (alternating, repeated), never a
# wall-clock threshold; the machine and how busy it was are printed with them.
#
#   bench/run.sh [churn|suite|fidelity|overhead|memory|setup|freeze|schedule ...]   (default: all)
#
# Needs root (a private dockerd, managed daemons). Results also go to out/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh >/dev/null
command -v python3 >/dev/null || { echo "python3 is needed for the raw API loop" >&2; exit 2; }
cargo build --release --quiet
SD="$PWD/target/release/shakedown"
OUT="$PWD/out/bench"
mkdir -p "$OUT"
STATE=$(mktemp -d /tmp/sd-bench-state.XXXXXX)
export SHAKEDOWN_STATE_DIR="$STATE"
WORK=$(mktemp -d /tmp/sd-bench.XXXXXX)
ROUNDS=${ROUNDS:-2}

machine() {
  echo "$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), $(dockerd --version | cut -d, -f1)"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# --- A private daemon shared by the harness (--target docker) and the reference loops ---------
DD=""
start_daemon() {
  DD=$(mktemp -d /tmp/sd-bench-daemon.XXXXXX)
  echo '{}' >"$DD/daemon.json"
  ip link add sd-bench type bridge 2>/dev/null || true
  ip addr add 10.213.254.1/24 dev sd-bench 2>/dev/null || true
  ip link set sd-bench up
  setsid dockerd --config-file "$DD/daemon.json" --data-root "$DD/data" --exec-root "$DD/exec" \
    -H "unix://$DD/docker.sock" --pidfile "$DD/docker.pid" --bridge sd-bench --iptables=false \
    --ip-masq=false --containerd-namespace sd-bench --containerd-plugins-namespace sd-bench-p \
    >"$DD/dockerd.log" 2>&1 &
  for _ in $(seq 100); do
    docker -H "unix://$DD/docker.sock" version >/dev/null 2>&1 && break
    sleep 0.1
  done
  export DOCKER_HOST="unix://$DD/docker.sock"
  # The fixture image, built by the harness itself.
  printf 'name: warmup\nsteps:\n  - action: {sleep: {duration: 10ms}}\ncontainers:\n  c: {}\n' >"$WORK/warmup.yaml"
  "$SD" run --target docker "$WORK/warmup.yaml" >/dev/null
  IMAGE=$(docker images --filter label=io.shakedown.fixture --format '{{.Repository}}:{{.Tag}}' | head -1)
}
stop_daemon() {
  [ -n "$DD" ] || return 0
  docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1 || true
  kill "$(cat "$DD/docker.pid")" 2>/dev/null || true
  for _ in $(seq 100); do [ -e "/proc/$(cat "$DD/docker.pid" 2>/dev/null)" ] || break; sleep 0.1; done
  { grep " $DD" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
  rm -rf "$DD"
  ip link del sd-bench 2>/dev/null || true
  DD=""
  unset DOCKER_HOST
}
cleanup() { stop_daemon; "$SD" clean >/dev/null 2>&1 || true; rm -rf "$WORK" "$STATE"; }
trap cleanup EXIT

CMD='[shakedown-fixture, trap, --signal, TERM, --exit-code, "0"]'
churn_scenario() { # cycles concurrency
  printf 'name: churn-%s-%s\ncontainers:\n  c:\n    command: %s\nsteps:\n  - name: churn\n    action: {churn: {container: c, cycles: %s, concurrency: %s}}\n    deadline: 60m\n' \
    "$1" "$2" "$CMD" "$1" "$2" >"$WORK/churn-$1-$2.yaml"
  echo "$WORK/churn-$1-$2.yaml"
}
harness_churn() { # cycles concurrency -> cycles/s
  local f; f=$(churn_scenario "$1" "$2")
  "$SD" run --target docker "$f" --json "$WORK/h.json" >/dev/null
  json "$WORK/h.json" "[m['value'] for s in d['targets'][0]['run']['scenarios'][0]['iterations'][0]['steps'] for m in s['measures'] if m['name']=='cycles_per_second'][0]"
}
raw_churn() { # cycles concurrency -> cycles/s
  python3 bench/rawapi.py "${DOCKER_HOST#unix://}" "$IMAGE" "$1" "$2" -- shakedown-fixture trap --signal TERM --exit-code 0 >"$WORK/r.json"
  json "$WORK/r.json" "d['cycles_per_second'] if d['failed']==0 else 'failed: %s' % d['errors']"
}
cli_churn() { # cycles -> cycles/s (sequential)
  local t0 t1
  t0=$(date +%s.%N)
  for i in $(seq "$1"); do
    id=$(docker create --label io.shakedown.bench=cli "$IMAGE" shakedown-fixture trap --signal TERM --exit-code 0)
    docker start "$id" >/dev/null
    docker stop -t 1 "$id" >/dev/null
    docker rm -f "$id" >/dev/null
  done
  t1=$(date +%s.%N)
  python3 -c "print($1/($t1-$t0))"
}

bench_churn() {
  local cycles=${CYCLES:-100}
  start_daemon
  echo "== churn throughput: $cycles create/start/stop/remove cycles on one private daemon, alternating, $ROUNDS rounds (load before: $(load))"
  for c in 1 4; do
    for r in $(seq "$ROUNDS"); do
      h=$(harness_churn "$cycles" "$c"); a=$(raw_churn "$cycles" "$c")
      if [ "$c" = 1 ]; then cli=$(cli_churn "$cycles"); else cli="-"; fi
      echo "concurrency $c round $r: harness $h/s raw API $a/s docker CLI ${cli}/s"
      python3 -c "h=$h; a=$a; print('  harness/raw = %.2f' % (h/a))"
      [ "$cli" = "-" ] || python3 -c "h=$h; c=$cli; print('  harness/CLI = %.2f' % (h/c))"
      echo "$c $r $h $a $cli" >>"$OUT/churn.txt"
    done
  done
  echo "(load after: $(load))"
  stop_daemon
}

bench_suite() {
  echo "== suite wall time, --jobs 1 vs the default, back to back (load before: $(load))"
  for r in $(seq "$ROUNDS"); do
    /usr/bin/time -f "%e" -o "$WORK/t1" "$SD" run -j 1 --json "$WORK/s1.json" >/dev/null || true
    /usr/bin/time -f "%e" -o "$WORK/td" "$SD" run --json "$WORK/sd.json" >/dev/null || true
    t1=$(tail -1 "$WORK/t1"); td=$(tail -1 "$WORK/td")
    longest=$(json "$WORK/sd.json" "max(s['elapsed'] for s in d['targets'][0]['run']['scenarios'])")
    same=$(python3 -c "import json; a=json.load(open('$WORK/s1.json')); b=json.load(open('$WORK/sd.json')); print([v['outcome'] for v in a['targets'][0]['verdicts']]==[v['outcome'] for v in b['targets'][0]['verdicts']])")
    echo "round $r: --jobs 1 ${t1}s, default ${td}s (ratio $(python3 -c "print('%.2f' % ($td/$t1))")), longest scenario ${longest}s (default/longest $(python3 -c "print('%.2f' % ($td/$longest))")), same verdicts: $same"
  done
  cp "$WORK/sd.json" "$OUT/suite.json"
}

bench_overhead() {
  [ -f "$OUT/suite.json" ] || "$SD" run --json "$OUT/suite.json" >/dev/null || true
  echo "== harness time per step beyond its action (from the suite's record)"
  python3 - "$OUT/suite.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
over = []
for s in d["targets"][0]["run"]["scenarios"]:
    for it in s["iterations"]:
        for st in it["steps"]:
            if st["outcome"]["status"] == "ok":
                over.append(st["observed_until"] - st["finished"])
over.sort()
p = lambda q: over[min(len(over) - 1, int(q * len(over)))]
print("steps %d: observation after the action p50 %.1f ms, p95 %.1f ms, max %.1f ms" % (len(over), p(.5) * 1e3, p(.95) * 1e3, over[-1] * 1e3))
tot = []
for s in d["targets"][0]["run"]["scenarios"]:
    acts = sum(st["finished"] - st["started"] for it in s["iterations"] for st in it["steps"])
    tot.append((s["elapsed"] - acts, s["name"]))
tot.sort()
print("scenario time beyond its actions: median %.2f s, max %.2f s (%s)" % (tot[len(tot) // 2][0], tot[-1][0], tot[-1][1]))
PY
}

bench_fidelity() {
  echo "== timing fidelity: the harness's clock vs the daemon's event timestamps and the docker CLI, same run"
  local reps=${REPS:-5}
  printf 'name: fidelity\nrepeat: %s\ncontainers:\n  bash: {command: [bash, -c, "sleep 1000"]}\n  hog: {command: [shakedown-fixture, alloc, --rate, 64MiB/s, --total, 512MiB], memory: 64MiB, memory_swap: 64MiB}\nsteps:\n  - action: {start: {container: bash}}\n  - name: stop\n    action: {stop: {container: bash, timeout: 2s}}\n  - action: {start: {container: hog}}\n  - name: oom\n    action: {wait: {container: hog}}\n' "$reps" >"$WORK/fidelity.yaml"
  "$SD" run -j 1 "$WORK/fidelity.yaml" --json "$WORK/f.json" >/dev/null || true
  python3 - "$WORK/f.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def diffs(step, a, b):
    out = []
    for it in d["targets"][0]["run"]["scenarios"][0]["iterations"]:
        st = [s for s in it["steps"] if s["label"] == step][0]
        m = {x["name"]: x["value"] for x in st["measures"]}
        out.append(abs(m[a] - m[b]))
    out.sort()
    return out
for step, a, b in [("stop", "duration", "daemon_duration"), ("oom", "duration", "run_time")]:
    v = diffs(step, a, b)
    print("%s: |harness %s - daemon %s| p95 %.1f ms (n=%d)" % (step, a, b, v[min(len(v) - 1, int(.95 * len(v)))] * 1e3, len(v)))
PY
  start_daemon
  local diffs=()
  for _ in $(seq "$reps"); do
    id=$(docker run -d "$IMAGE" bash -c "sleep 1000")
    since=$(date +%s.%N)
    t0=$(date +%s.%N); docker stop -t 2 "$id" >/dev/null; t1=$(date +%s.%N)
    ev=$(docker events --since "$since" --until "$(date +%s.%N)" --filter "container=$id" --format '{{.Action}} {{.TimeNano}}')
    kill=$(echo "$ev" | awk '$1=="kill"{print $2; exit}'); die=$(echo "$ev" | awk '$1=="die"{print $2; exit}')
    diffs+=("$(python3 -c "print(abs(($t1-$t0) - ($die-$kill)/1e9))")")
    docker rm -f "$id" >/dev/null
  done
  python3 -c "import sys; v=sorted(map(float, sys.argv[1:])); print('stop via docker CLI: |CLI wall - daemon kill->die| p95 %.1f ms (n=%d)' % (v[min(len(v)-1,int(.95*len(v)))]*1e3, len(v)))" "${diffs[@]}"
  stop_daemon
}

bench_memory() {
  local cycles=${MEM_CYCLES:-500} conc=${MEM_CONC:-4}
  start_daemon
  echo "== harness peak RSS and CPU through a $cycles-container churn (concurrency $conc)"
  local f; f=$(churn_scenario "$cycles" "$conc")
  /usr/bin/time -f "%M %U %S %e" -o "$WORK/mem" "$SD" run --target docker "$f" >/dev/null
  read -r rss user sys wall <"$WORK/mem"
  echo "peak RSS $((rss / 1024)) MB, CPU ${user}s user + ${sys}s system over ${wall}s"
  f=$(churn_scenario 100 "$conc")
  /usr/bin/time -f "%M %U %S %e" -o "$WORK/mem100" "$SD" run --target docker "$f" >/dev/null
  read -r rss100 user100 sys100 wall100 <"$WORK/mem100"
  echo "the same with 100 cycles: peak RSS $((rss100 / 1024)) MB, CPU ${user100}s + ${sys100}s (RSS ratio $cycles/100 cycles: $(python3 -c "print('%.2f' % ($rss/$rss100))"))"
  stop_daemon
}

bench_setup() {
  echo "== managed daemon start-to-ready and fixture image build (from the journal's setup entries)"
  printf 'name: noop\ncontainers:\n  c: {}\nsteps:\n  - action: {sleep: {duration: 10ms}}\n' >"$WORK/noop.yaml"
  for r in $(seq 3); do
    "$SD" run -j 1 "$WORK/noop.yaml" --journal "$WORK/j.jsonl" >/dev/null
    python3 - "$WORK/j.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] == "setup":
        print("  %s: %.0f ms" % (e["name"], e["seconds"] * 1e3), end="")
print()
PY
  done
}

bench_freeze() {
  echo "== time from a frozen daemon to the harness's verdict on it"
  "$SD" run -j 1 scenarios/daemon-freeze.yaml --json "$WORK/fr.json" >/dev/null || true
  json "$WORK/fr.json" "'hang detected %.0f ms after the freeze; the probe deadline is 2000 ms' % ([m['value'] for s in d['targets'][0]['run']['scenarios'][0]['iterations'][0]['steps'] for m in s['measures'] if m['name']=='hang_detected_after'][0]*1e3)"
}

bench_schedule() {
  # Five sleeps on 2 jobs, an exclusive one second in the plan: `run` keeps the plan's order,
  # `qualify` starts a round with the exclusive ones (then the longest first). The figure is the
  # span from the first scenario's start to the last one's end, read from each journal.
  echo "== a round's order: plan order (run) vs exclusive first (qualify) (load before: $(load))"
  local d="$WORK/sched"; mkdir -p "$d"
  for x in a:6 b:3 c:3 d:2; do
    printf 'name: %s\nsteps:\n  - action: {sleep: {duration: %ss}}\n' "${x%%:*}" "${x##*:}" >"$d/${x%%:*}.yaml"
  done
  printf 'name: x\nrequires: {exclusive: true}\nsteps:\n  - action: {sleep: {duration: 8s}}\n' >"$d/x.yaml"
  local files=("$d/a.yaml" "$d/x.yaml" "$d/b.yaml" "$d/c.yaml" "$d/d.yaml")
  for r in $(seq "$ROUNDS"); do
    rm -rf "$d/q"
    "$SD" run -j 2 --progress none --forensics never --journal "$d/run.jsonl" "${files[@]}" >/dev/null || true
    "$SD" qualify --baseline system --candidate system --repeat 1 -j 2 --progress none \
      --forensics never --out "$d/q" "${files[@]}" >/dev/null 2>&1 || true
    python3 - "$d/run.jsonl" "$d/q/baseline-round1.jsonl" "$d/q/candidate-round1.jsonl" <<'PY'
import json, sys
def span(path):
    t0, t1 = [], []
    for line in open(path):
        e = json.loads(line)
        if e["event"] == "scenario_started": t0.append(e["t"])
        if e["event"] == "scenario_finished": t1.append(e["t"])
    return max(t1) - min(t0)
run, *sides = [span(p) for p in sys.argv[1:]]
print("plan order %.1fs, exclusive first %s (ratio %.2f)" % (run, ", ".join("%.1fs" % s for s in sides), sum(sides) / len(sides) / run))
PY
  done
}

echo "machine: $(machine); load: $(load)"
for b in "${@:-churn suite overhead fidelity memory setup freeze schedule}"; do
  for x in $b; do "bench_$x"; done
done
