#!/usr/bin/env bash
# Step 1: the Debian packages the cluster is made of. Installs only what is missing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# package:command-or-file it provides
wanted=(
  docker.io:/usr/sbin/dockerd containerd:/usr/bin/containerd runc:/usr/sbin/runc
  debootstrap:/usr/sbin/debootstrap etcd-server:/usr/bin/etcd
  containernetworking-plugins:/usr/lib/cni/bridge iptables:/usr/sbin/iptables
  conntrack:/usr/sbin/conntrack socat:/usr/bin/socat jq:/usr/bin/jq curl:/usr/bin/curl openssl:/usr/bin/openssl
  gcc:/usr/bin/gcc libc6-dev:/usr/lib/x86_64-linux-gnu/libc.a
)
missing=()
for entry in "${wanted[@]}"; do
  [ -e "${entry#*:}" ] || missing+=("${entry%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
else
  say "Debian packages already installed"
fi
