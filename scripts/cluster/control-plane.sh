#!/usr/bin/env bash
# Step 7: etcd (Debian's), the API server, controller manager, scheduler, kubelet and
# kube-proxy (iptables mode), each a plain process inside the cluster's namespace with a
# PID file and a log under $STATE/logs. Waits, bounded, for the node to be Ready.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_daemon etcd nsenter --net="$NETNS_PATH" -- etcd --name switchyard --data-dir "$STATE/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster switchyard=http://127.0.0.1:2380 --log-level warn
wait_until 30 "etcd" in_netns curl -sf http://127.0.0.1:2379/health

start_daemon kube-apiserver nsenter --net="$NETNS_PATH" -- "$K8S_BIN/kube-apiserver" \
  --advertise-address="$NODE_IP" --secure-port=6443 \
  --etcd-servers=http://127.0.0.1:2379 \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP,Hostname \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --profiling=false
wait_until 90 "the API server" kubectl_admin get --raw /readyz

start_daemon kube-controller-manager nsenter --net="$NETNS_PATH" -- "$K8S_BIN/kube-controller-manager" \
  --kubeconfig="$PKI/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$PKI/controller-manager.kubeconfig" --authorization-kubeconfig="$PKI/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false

start_daemon kube-scheduler nsenter --net="$NETNS_PATH" -- "$K8S_BIN/kube-scheduler" \
  --kubeconfig="$PKI/scheduler.kubeconfig" \
  --authentication-kubeconfig="$PKI/scheduler.kubeconfig" --authorization-kubeconfig="$PKI/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --profiling=false

# The pods' cgroups go under $CGROUP_PARENT in every cgroup v1 hierarchy, created here so
# the kubelet accepts it as its cgroupRoot, and so `down` finds every pod process.
for hierarchy in /sys/fs/cgroup/*/; do
  [ -d "$hierarchy$CGROUP_PARENT" ] || mkdir "$hierarchy$CGROUP_PARENT"
  if [ -f "${hierarchy}cpuset.cpus" ]; then
    cat "${hierarchy}cpuset.cpus" > "$hierarchy$CGROUP_PARENT/cpuset.cpus"
    cat "${hierarchy}cpuset.mems" > "$hierarchy$CGROUP_PARENT/cpuset.mems"
  fi
done
mkdir -p "$STATE/kubelet" "$STATE/pod-logs" "$STATE/kubelet-plugins"
# Pods resolve only through the cluster DNS; the kubelet's own resolv.conf names nothing else.
echo "nameserver $DNS_SERVICE_IP" > "$STATE/kubelet/resolv.conf"
cat > "$STATE/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: Webhook }
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_PARENT
# This machine runs cgroup v1, which kubelet 1.35 refuses; 1.34 still runs it when asked.
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [$DNS_SERVICE_IP]
resolvConf: $STATE/kubelet/resolv.conf
podLogsDir: $STATE/pod-logs
volumePluginDir: $STATE/kubelet-plugins
serializeImagePulls: false
YAML
start_daemon kubelet nsenter --net="$NETNS_PATH" -- "$K8S_BIN/kubelet" --config="$STATE/kubelet/config.yaml" \
  --kubeconfig="$PKI/kubelet.kubeconfig" --root-dir="$STATE/kubelet" \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"

# kube-proxy exits when its configuration file is written, even with the same content,
# and `up` runs again on a running cluster (npm run test:cluster after --keep): write
# the file only when it changes.
proxy_config=$(mktemp)
cat > "$proxy_config" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $PKI/kube-proxy.kubeconfig }
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the conntrack sysctls as they are (some are not per namespace).
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
# NodePorts on the node address only.
nodePortAddresses: [primary]
YAML
if cmp -s "$proxy_config" "$STATE/kube-proxy.yaml"; then rm "$proxy_config"; else mv "$proxy_config" "$STATE/kube-proxy.yaml"; fi
start_daemon kube-proxy nsenter --net="$NETNS_PATH" -- "$K8S_BIN/kube-proxy" --config="$STATE/kube-proxy.yaml"

say "waiting for node $NODE_NAME to be Ready"
wait_until 120 "node $NODE_NAME Ready" kubectl_admin wait --for=condition=Ready "node/$NODE_NAME" --timeout=5s
