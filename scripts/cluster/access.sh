#!/usr/bin/env bash
# Step 9: the one door into the namespace, for kubectl, helm and the tests on this
# machine: the API server, forwarded from a free loopback port of the host through a
# Unix socket (sockets cross network namespaces). Everything else — the services, the
# broker — is reached with `kubectl port-forward` through it. Writes $STATE/kubeconfig.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_daemon apiserver-socket nsenter --net="$NETNS_PATH" -- \
  socat "UNIX-LISTEN:$RUN/apiserver.sock,fork,unlink-early,mode=600" "TCP:$NODE_IP:6443"
wait_until 10 "the API server socket" test -S "$RUN/apiserver.sock"
if ! is_running apiserver-port; then
  # A port the kernel reports free right now; socat binds it next.
  "$ROOT/node_modules/.bin/node" -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})' > "$RUN/apiserver-port.number"
fi
port=$(cat "$RUN/apiserver-port.number")
start_daemon apiserver-port socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$RUN/apiserver.sock"
sed "s#server: https://$NODE_IP:6443#server: https://127.0.0.1:$port#" "$KUBECONFIG_ADMIN" > "$STATE/kubeconfig"
chmod 0600 "$STATE/kubeconfig"
wait_until 20 "the API server on 127.0.0.1:$port" "$K8S_BIN/kubectl" --kubeconfig "$STATE/kubeconfig" get --raw /readyz
say "API server on https://127.0.0.1:$port (kubeconfig $STATE/kubeconfig)"
