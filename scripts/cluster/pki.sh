#!/usr/bin/env bash
# Step 6: the cluster's PKI with openssl (a CA, serving and client certificates, the
# service-account key pair) and a kubeconfig per component. Kept across runs; a missing
# file is made again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mkdir -p "$PKI"
cd "$PKI"

if [ ! -f ca.crt ]; then
  say "creating the cluster CA"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=switchyard-cluster-ca" 2>/dev/null
fi
if [ ! -f sa.key ]; then
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
fi

# cert <name> <subject> [subjectAltName] [extendedKeyUsage]
cert() {
  local name=$1 subject=$2 san=${3:-} usage=${4:-clientAuth}
  [ -f "$name.crt" ] && return 0
  say "certificate $name ($subject)"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subject" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -n "$san" ] && echo "subjectAltName=$san"
  } > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm "$name.csr" "$name.ext"
}

cert apiserver "/CN=kube-apiserver" \
  "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$KUBERNETES_SERVICE_IP,IP:$NODE_IP" serverAuth
cert kubelet-serving "/CN=$NODE_NAME" "DNS:$NODE_NAME,IP:$NODE_IP" serverAuth
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert admin "/O=system:masters/CN=switchyard-admin"
cert controller-manager "/CN=system:kube-controller-manager"
cert scheduler "/CN=system:kube-scheduler"
cert kube-proxy "/CN=system:kube-proxy"
cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"

# kubeconfig <file> <cert name> <server URL>
kubeconfig() {
  local file=$1 name=$2 server=$3
  cat > "$file" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: switchyard
    cluster:
      server: $server
      certificate-authority-data: $(base64 -w0 ca.crt)
users:
  - name: $name
    user:
      client-certificate-data: $(base64 -w0 "$name.crt")
      client-key-data: $(base64 -w0 "$name.key")
contexts:
  - name: switchyard
    context: { cluster: switchyard, user: $name }
current-context: switchyard
YAML
  chmod 0600 "$file"
}
# Inside the namespace every component talks to the API server on the node address.
for component in controller-manager scheduler kube-proxy kubelet; do
  kubeconfig "$component.kubeconfig" "$component" "https://$NODE_IP:6443"
done
kubeconfig "$KUBECONFIG_ADMIN" admin "https://$NODE_IP:6443"
