#!/usr/bin/env bash
# Step 3: the network namespace the whole cluster lives in. The node's address sits on a
# veth pair whose both ends stay inside (this kernel has no dummy links); there is no
# default route, so nothing in the cluster reaches any network outside it. Sysctls are
# per namespace: forwarding is switched on inside only, the host's stays as it is.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ ! -e "$NETNS_PATH" ]; then
  # Remember whether /run/netns was ours, so `down` removes only what it created.
  mkdir -p "$RUN"
  [ -d /run/netns ] || touch "$RUN/created-run-netns"
  say "creating network namespace $NETNS"
  ip netns add "$NETNS"
fi
if ! in_netns ip link show "$NODE_LINK" >/dev/null 2>&1; then
  say "node address $NODE_IP on $NODE_LINK (a veth pair inside $NETNS)"
  in_netns ip link add "$NODE_LINK" type veth peer name sy-peer
  in_netns ip addr add "$NODE_IP/24" dev "$NODE_LINK"
  in_netns ip link set lo up
  in_netns ip link set sy-peer up
  in_netns ip link set "$NODE_LINK" up
  # Processes in the namespace itself (not pods) reach ClusterIPs through the node link,
  # where kube-proxy's rules translate them.
  in_netns ip route add "$SERVICE_CIDR" dev "$NODE_LINK"
  in_netns sysctl -qw net.ipv4.ip_forward=1
  in_netns sysctl -qw net.ipv4.conf.all.route_localnet=1
fi
say "namespace $NETNS: $(in_netns ip -br addr show "$NODE_LINK" | awk '{print $3}'), no default route"
