#!/usr/bin/env bash
# Makes sure a local RabbitMQ answers on 127.0.0.1:5672 with the management (15672) and
# Prometheus (15692) plugins on: installs Debian's rabbitmq-server when absent, starts it
# when stopped. Safe to run again; does nothing when all is already so.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  apt_install rabbitmq-server
fi

plugins=(rabbitmq_management rabbitmq_prometheus)
if ! wait_for_port 5672 1; then
  say "enabling RabbitMQ plugins: ${plugins[*]}"
  as_root rabbitmq-plugins enable --offline "${plugins[@]}" >/dev/null
  say "starting RabbitMQ"
  # Debian's wrapper drops to the rabbitmq user; -detached returns once the VM is up.
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  if ! wait_for_port 5672 90; then
    say "RabbitMQ did not start within 90 s; see /var/log/rabbitmq/"
    exit 1
  fi
fi
# The plugins may be off on a broker that was already running.
for port in 15672 15692; do
  if ! wait_for_port "$port" 1; then
    say "enabling RabbitMQ plugins: ${plugins[*]}"
    as_root rabbitmq-plugins enable "${plugins[@]}" >/dev/null
    wait_for_port "$port" 30 || { say "RabbitMQ plugin port $port did not open"; exit 1; }
  fi
done
as_root rabbitmqctl -q await_startup >/dev/null
say "RabbitMQ is up: amqp://127.0.0.1:5672, management http://127.0.0.1:15672, metrics :15692"
