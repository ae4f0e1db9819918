# Shared settings and helpers of the one-node cluster scripts (scripts/cluster/up, down).
# Sourced, never run. Every path and address of the cluster is named here, once.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER_LIB=$(dirname "${BASH_SOURCE[0]}")

# Pinned versions. The build cache under .tools/ is keyed by them, so a bump rebuilds.
K8S_VERSION=v1.34.4
K8S_STAGING_VERSION=v0.34.4
COREDNS_VERSION=v1.12.4
SKAFFOLD_VERSION=v2.19.0
NODE_IMAGE_VERSION=$(sed -n 's/^ARG NODE_VERSION=//p' "$ROOT/services/handler/Dockerfile")
PAUSE_IMAGE=registry.k8s.io/pause:3.10
COREDNS_IMAGE=switchyard.local/coredns:$COREDNS_VERSION

# Built binaries (kept between runs) and the cluster's state (removed by `down`).
TOOLS="$ROOT/.tools"
K8S_BIN=${SWITCHYARD_K8S_BIN:-"$TOOLS/kubernetes-$K8S_VERSION/bin"}
COREDNS_BIN="$TOOLS/coredns-$COREDNS_VERSION/bin"
STATE=${SWITCHYARD_CLUSTER_STATE:-/var/lib/switchyard-cluster}
RUN="$STATE/run"        # PID files, sockets, logs
PKI="$STATE/pki"
LOGS="$STATE/logs"
KUBECONFIG_ADMIN="$STATE/admin.kubeconfig"

# The network namespace holding the whole cluster, and its addresses.
NETNS=switchyard
NETNS_PATH=/run/netns/$NETNS
NODE_NAME=switchyard-node
NODE_IP=10.250.0.1
NODE_LINK=sy-node         # carries the node address; its peer sy-peer stays in the namespace too
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/24
KUBERNETES_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
# The pods' cgroups live under this parent, so `down` finds every process they hold.
CGROUP_PARENT=switchyard

# dockerd (outside the namespace: image builds fetch npm packages) and the CRI's containerd.
DOCKER_SOCK="$RUN/docker.sock"
CONTAINERD_SOCK="$RUN/containerd.sock"
export DOCKER_HOST="unix://$DOCKER_SOCK"

# Runs a command inside the cluster's network namespace. nsenter, not `ip netns exec`:
# the latter remounts /sys (hiding the cgroup v1 mounts) and gives every call a mount
# namespace of its own, where containerd would not see the kubelet's volume mounts.
in_netns() { nsenter --net="$NETNS_PATH" -- "$@"; }

# Whether the process recorded in $RUN/<name>.pid is alive.
is_running() {
  local pidfile="$RUN/$1.pid"
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# Starts a daemon (a program, not a shell function) in the background with its output in $LOGS/<name>.log and its PID in
# $RUN/<name>.pid; does nothing when it already runs. Usage: start_daemon <name> cmd...
start_daemon() {
  local name=$1; shift
  if is_running "$name"; then say "$name already running (pid $(cat "$RUN/$name.pid"))"; return 0; fi
  say "starting $name"
  mkdir -p "$RUN" "$LOGS"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
}

# Waits up to <seconds> for a command to succeed. Usage: wait_until <seconds> <what> cmd...
wait_until() {
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "gave up after ${seconds}s waiting for $what"
      return 1
    fi
    sleep 1
  done
}

# kubectl as cluster admin, from inside the namespace.
kubectl_admin() { in_netns "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
