#!/usr/bin/env bash
# Usage: scripts/ensure-rabbitmq-tls.sh DIR
# Makes sure the local RabbitMQ (scripts/ensure-rabbitmq.sh) also answers AMQP over TLS
# on 127.0.0.1:5671 with the certificate in DIR (tls.crt, tls.key, ca.crt: the
# kubernetes.io/tls shape that `compare --tls` makes in .local/tls/server). The
# cleartext listener on 5672 stays as it is.
#
# The listener is started in the running node (rabbitmqctl eval), not written to
# rabbitmq.conf: no restart, so the tests sharing this broker keep their connections,
# and a later restart can never fail on certificate files that have since gone. It lasts
# until the broker stops; running this again starts it again. It verifies a client
# certificate when one is shown (mutual TLS) but does not require one (plain TLS).
# Safe to run again: with the same files it does nothing; with new ones (the CA was
# remade) it installs them and clears the broker's certificate cache, so new
# connections get them at once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=${1:?usage: $0 DIR (holding tls.crt, tls.key and ca.crt)}
for file in tls.crt tls.key ca.crt; do
  [ -r "$dir/$file" ] || { say "$dir/$file is missing"; exit 1; }
done
port=5671
# The broker reads its copy: the rabbitmq user may not be able to reach DIR.
target=/etc/rabbitmq/switchyard-tls

changed=0
if ! as_root test -d "$target"; then as_root install -d -o rabbitmq -g rabbitmq -m 0750 "$target"; fi
for file in tls.crt tls.key ca.crt; do
  if ! as_root cmp -s "$dir/$file" "$target/$file"; then
    as_root install -o rabbitmq -g rabbitmq -m 0600 "$dir/$file" "$target/$file"
    changed=1
  fi
done

# Asks the node itself: something else may have taken the port.
tls_listener_on() {
  [ "$(as_root rabbitmqctl -q eval "lists:any(fun(L) -> element(3, L) =:= 'amqp/ssl' andalso element(6, L) =:= $port end, rabbit_networking:active_listeners()).")" = true ]
}

if tls_listener_on; then
  if [ "$changed" = 1 ]; then
    say "new certificates for RabbitMQ's TLS listener; clearing its certificate cache"
    as_root rabbitmqctl -q eval 'ssl:clear_pem_cache().' >/dev/null
  fi
  exit 0
fi

if wait_for_port "$port" 1; then
  say "port $port is taken by something other than RabbitMQ's TLS listener"
  exit 1
fi
say "starting RabbitMQ's TLS listener on 127.0.0.1:$port (in the running node, no restart)"
as_root rabbitmqctl -q eval "
  rabbit_networking:ensure_ssl(),
  Options = rabbit_ssl_options:fix([
    {cacertfile, \"$target/ca.crt\"}, {certfile, \"$target/tls.crt\"}, {keyfile, \"$target/tls.key\"},
    {verify, verify_peer}, {fail_if_no_peer_cert, false}, {versions, ['tlsv1.3', 'tlsv1.2']}]),
  ok = rabbit_networking:start_ssl_listener({\"127.0.0.1\", $port}, Options, 10)." >/dev/null
wait_for_port "$port" 30 || { say "RabbitMQ's TLS listener did not open on $port within 30 s"; exit 1; }
say "RabbitMQ answers amqps://127.0.0.1:$port too"
