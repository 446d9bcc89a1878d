# Sourced by the Docker tests (docker-test.sh, docker-relay-test.sh): a
# containerd and a dockerd of the test's own, inside a network namespace of
# their own, so that Docker's bridges, veths, containers and firewall rules
# never reach the machine's root network namespace and no other daemon is
# touched (own sockets, data root, exec root, config file, cgroup parent).
#
# Before sourcing, define log and die (one-line messages). Then:
#   dn_setup            removes leftovers of killed runs; sets ns, run, data,
#                       sock, csock; exports DOCKER_HOST
#   dn_start [ARGS...]  starts containerd and dockerd (ARGS added to dockerd's)
#                       and waits until dockerd answers
#   dn_stop             stops both daemons and their shims by PID, deletes the
#                       namespace, the directories and the cgroup (for the
#                       caller's EXIT trap; safe to call at any point)
#   dn_logs             the tails of the daemons' logs (after a failure)
#   dn_root_links       the links of the root namespace, one per line, sorted
# Needs root and Debian's docker.io (scripts/install-deps.sh).

DN_RUNBASE=/run/mcast-docker
DN_DATABASE=/var/lib/mcast-docker
DN_NSPREFIX=mcastdock

ns="" run="" data="" sock="" csock=""
dockerd_pid="" containerd_pid=""
dn_had_run_containerd=0

# dn_stop_pid PID SECONDS waits up to SECONDS for PID to end after SIGTERM,
# then kills it.
dn_stop_pid() {
  local pid=$1 wait=$2
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((wait * 5))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
}

dn_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

dn_root_links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }

dn_setup() {
  [ "$(id -u)" = 0 ] || die "needs root (it makes a network namespace and runs its own dockerd)"
  local b d old
  for b in ip dockerd containerd containerd-shim-runc-v2 runc docker; do
    command -v "$b" >/dev/null || die "$b is not installed (run scripts/install-deps.sh)"
  done
  # Leftovers of an earlier run that was killed outright (no trap ran):
  # removed when neither the run's script nor its daemons are alive. A live
  # one may be a run in progress and is left alone.
  for d in "$DN_RUNBASE"/*/; do
    [ -d "$d" ] || continue
    old=$(basename "$d")
    if ! dn_alive "$d/owner.pid" && ! dn_alive "$d/docker.pid" && ! dn_alive "$d/containerd.pid"; then
      log "removing leftovers of run $old"
      ip netns del "$DN_NSPREFIX-$old" 2>/dev/null || true
      rm -rf "${d:?}" "${DN_DATABASE:?}/$old"
      rmdir /sys/fs/cgroup/*/"mcast-docker-$old" /sys/fs/cgroup/"mcast-docker-$old" 2>/dev/null || true
    fi
  done
  ns=$DN_NSPREFIX-$$
  run=$DN_RUNBASE/$$
  data=$DN_DATABASE/$$
  sock=$run/docker.sock
  csock=$run/containerd/containerd.sock
  export DOCKER_HOST=unix://$sock
  # containerd's shims put their sockets below /run/containerd/s whatever the
  # configuration; dn_stop removes those directories if this run made them.
  [ -e /run/containerd ] && dn_had_run_containerd=1
  mkdir -p "$run/containerd" "$data"
  echo $$ >"$run/owner.pid"
}

dn_start() {
  echo '{}' >"$run/daemon.json"
  cat >"$run/containerd.toml" <<EOF
version = 2
root = "$data/containerd"
state = "$run/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$csock"
[ttrpc]
  address = ""
[debug]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$data/opt"
EOF
  ip netns add "$ns"
  ip -n "$ns" link set lo up

  # containerd and dockerd must share one mount namespace (dockerd mounts the
  # container root file systems, containerd's runc uses them), so one
  # `ip netns exec` starts both: containerd in the background, then dockerd in
  # its place. $! is therefore dockerd's PID. `ip netns exec` gives them a
  # private mount namespace with a fresh /sys (so /sys/class/net shows the
  # namespace's links), which drops the cgroup mounts below /sys/fs/cgroup;
  # they are mounted again there, as they are in the root namespace. (securityfs
  # is not, so this daemon sees no AppArmor and needs no apparmor_parser.)
  grep -E '^[^ ]+ /sys/fs/cgroup[/ ]' /proc/self/mounts >"$run/cgroup-mounts" ||
    die "no cgroup file system is mounted below /sys/fs/cgroup"
  log "starting containerd and dockerd in network namespace $ns"
  ip netns exec "$ns" bash -c '
    while read -r src target type opts _; do
      mkdir -p "$target" && mount -t "$type" -o "$opts" "$src" "$target" ||
        { echo "mounting $type at $target failed" >&2; exit 1; }
    done <"$2/cgroup-mounts"
    containerd --config "$1" >"$2/containerd.log" 2>&1 &
    echo $! >"$2/containerd.pid"
    for _ in $(seq 1 150); do [ -S "$3" ] && break; sleep 0.2; done
    shift 3
    exec dockerd "$@"
  ' _ "$run/containerd.toml" "$run" "$csock" \
    --host "unix://$sock" \
    --containerd "$csock" \
    --data-root "$data" \
    --exec-root "$run/exec" \
    --pidfile "$run/docker.pid" \
    --config-file "$run/daemon.json" \
    --bridge none \
    --userland-proxy=false \
    --cgroup-parent "mcast-docker-$$" \
    "$@" \
    >"$run/dockerd.log" 2>&1 &
  dockerd_pid=$!

  local err server
  for _ in $(seq 1 300); do
    [ -s "$run/containerd.pid" ] && containerd_pid=$(cat "$run/containerd.pid")
    if ! kill -0 "$dockerd_pid" 2>/dev/null; then
      err=$(grep -E 'level=(fatal|error)|failed to start daemon' "$run/dockerd.log" | tail -n 1)
      [ -n "$err" ] || err=$(tail -n 1 "$run/dockerd.log")
      die "dockerd did not start: ${err:-no output}"
    fi
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
    sleep 0.2
  done
  server=$(docker version --format '{{.Server.Version}}' 2>&1) ||
    die "dockerd did not answer at $DOCKER_HOST within 60 s: $server"
  log "dockerd $server (pid $dockerd_pid) answers at $DOCKER_HOST"
}

dn_stop() {
  [ -n "$run" ] || return 0
  local p
  [ -n "$dockerd_pid" ] && dn_stop_pid "$dockerd_pid" 30
  [ -n "$containerd_pid" ] && dn_stop_pid "$containerd_pid" 15
  # Shims of this run's containerd (matched by its unique socket path).
  for p in $(pgrep -f -- "-address $csock" 2>/dev/null); do dn_stop_pid "$p" 5; done
  ip netns del "$ns" 2>/dev/null
  rmdir /sys/fs/cgroup/*/"mcast-docker-$$" /sys/fs/cgroup/"mcast-docker-$$" 2>/dev/null
  rm -rf "${run:?}" "${data:?}"
  [ "$dn_had_run_containerd" = 1 ] || rmdir /run/containerd/s /run/containerd 2>/dev/null
  rmdir "$DN_RUNBASE" "$DN_DATABASE" 2>/dev/null
  return 0
}

dn_logs() {
  [ -d "$run" ] || return 0
  echo "--- containerd log (last 5 lines) ---" >&2
  tail -n 5 "$run/containerd.log" >&2 2>/dev/null
  echo "--- dockerd log (last 20 lines) ---" >&2
  tail -n 20 "$run/dockerd.log" >&2 2>/dev/null
}
