#!/usr/bin/env bash
# Step 5: the container engines, as plain processes with PID files (no systemd here):
#   - containerd for the kubelet (CRI), inside the cluster's namespace, with a root, state
#     dir and socket of its own;
#   - dockerd for image builds, outside the namespace (builds fetch npm packages), with
#     its own data root, exec root, socket and pidfile, no bridge and no iptables rules, so
#     the host's network is left as it is. It runs its own managed containerd.
# This VM lacks CAP_SYS_RESOURCE: without restrict_oom_score_adj every pod sandbox fails
# with "nsexec: failed to update /proc/self/oom_score_adj: Permission denied".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$STATE/containerd" "$STATE/cni/net.d" "$STATE/cni/ipam" "$RUN"
cat > "$STATE/containerd/config.toml" <<TOML
version = 2
root = "$STATE/containerd/root"
state = "$RUN/containerd"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  # Pod network namespaces under our state dir, not the host's /run/netns.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
TOML
# The pod network: one bridge inside the namespace, addresses from POD_CIDR, portmap for
# hostPort. No masquerade: there is nowhere outside to reach.
cat > "$STATE/cni/net.d/10-switchyard.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "switchyard",
  "plugins": [
    {
      "type": "bridge", "bridge": "sy-cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$STATE/cni/ipam", "ranges": [[{ "subnet": "$POD_CIDR" }]],
                "routes": [{ "dst": "0.0.0.0/0" }] }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON

start_daemon containerd nsenter --net="$NETNS_PATH" -- containerd --config "$STATE/containerd/config.toml"
wait_until 30 "containerd" ctr --address "$CONTAINERD_SOCK" version

start_daemon dockerd dockerd --host "$DOCKER_HOST" --pidfile "$RUN/dockerd.docker.pid" \
  --data-root "$STATE/docker" --exec-root "$RUN/docker" \
  --storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs \
  --bridge none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false
wait_until 60 "dockerd" docker -H "$DOCKER_HOST" version
say "engines up: containerd $(containerd --version | awk '{print $3}') (CRI, in $NETNS), dockerd $(docker -H "$DOCKER_HOST" version -f '{{.Server.Version}}')"
