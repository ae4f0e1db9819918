# Shared helpers for the set-up scripts. Sourced, never run.
say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs Debian packages when a command they provide is missing.
apt_install() {
  if [ -z "${SWITCHYARD_APT_UPDATED:-}" ]; then
    say "apt-get update"
    as_root apt-get update -qq
    export SWITCHYARD_APT_UPDATED=1
  fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Waits until a TCP port on 127.0.0.1 accepts connections, up to $2 seconds.
wait_for_port() {
  local port=$1 seconds=$2
  for _ in $(seq "$seconds"); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 1
  done
  return 1
}
