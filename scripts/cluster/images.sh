#!/usr/bin/env bash
# Step 4: the images the cluster runs, built with dockerd. No image registry is reachable
# here, so the base images are lookalikes made from Debian (debootstrap) and imported:
#   node:<NODE_VERSION>-trixie-slim  Debian trixie minbase + the Node binary npm ships + npm,
#                                    user node 1000:1000, the official image's entrypoint
#                                    behaviour, this machine's CA bundle (npm ci in a build)
#   rabbitmq:<chart's default tag>   Debian trixie's rabbitmq-server with the management and
#                                    Prometheus plugins, user rabbitmq 999:999
#   registry.k8s.io/pause:3.10       the Kubernetes pause program, static, user 65535
# then both service images from their Dockerfiles, and imports all of them into the CRI's
# containerd. Each image is skipped when it already exists.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NPM_VERSION=11.19.1
MIRROR=${SWITCHYARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS="$STATE/rootfs"
APP_VERSION=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$ROOT/charts/switchyard/Chart.yaml")
RABBITMQ_IMAGE=$(awk '/^rabbitmq:/{r=1} r&&/repository:/{repo=$2} r&&/tag:/{print repo":"$2; exit}' "$ROOT/charts/switchyard/values.yaml")
NODE_IMAGE="node:$NODE_IMAGE_VERSION-trixie-slim"
docker() { command docker -H "$DOCKER_HOST" "$@"; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

trixie_rootfs() {
  if [ -f "$ROOTFS/trixie/.complete" ]; then return 0; fi
  say "debootstrap --variant=minbase trixie (the base of the lookalike images, ~30 s)"
  rm -rf "$ROOTFS/trixie" && mkdir -p "$ROOTFS"
  debootstrap --variant=minbase trixie "$ROOTFS/trixie" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1 \
    || { tail -20 "$LOGS/debootstrap.log"; exit 1; }
  rm -rf "$ROOTFS/trixie/var/cache/apt/archives/"*.deb "$ROOTFS/trixie/var/lib/apt/lists/"*
  touch "$ROOTFS/trixie/.complete"
}

# A copy of the trixie root to turn into one image.
fresh_root() {
  rm -rf "$ROOTFS/$1" && cp -a "$ROOTFS/trixie" "$ROOTFS/$1" && rm "$ROOTFS/$1/.complete"
  echo "$ROOTFS/$1"
}

node_image() {
  if have_image "$NODE_IMAGE"; then say "$NODE_IMAGE (lookalike) already built"; return 0; fi
  say "building the lookalike $NODE_IMAGE: trixie + node $NODE_IMAGE_VERSION + npm $NPM_VERSION + CA bundle"
  local root node npm_tgz
  root=$(fresh_root node)
  node=$(readlink -f "$ROOT/node_modules/node/bin/node")
  "$node" --version | grep -qx "v$NODE_IMAGE_VERSION" || { say "node_modules has not Node $NODE_IMAGE_VERSION"; exit 1; }
  install -m 0755 "$node" "$root/usr/local/bin/node"
  npm_tgz=$(cd "$STATE" && npm pack --silent "npm@$NPM_VERSION")
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$STATE/$npm_tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  rm "$STATE/$npm_tgz"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  # This machine's trust store: npm ci inside a build must trust what this machine does.
  mkdir -p "$root/etc/ssl/certs" "$root/usr/local/etc"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  echo "cafile=/etc/ssl/certs/ca-certificates.crt" > "$root/usr/local/etc/npmrc"
  # As the official image: a first argument that is a flag or not a command goes to node.
  cat > "$root/usr/local/bin/docker-entrypoint.sh" <<'ENTRY'
#!/bin/sh
set -e
if [ "${1#-}" != "$1" ] || ! command -v -- "$1" > /dev/null 2>&1; then
  set -- node "$@"
fi
exec "$@"
ENTRY
  chmod 0755 "$root/usr/local/bin/docker-entrypoint.sh"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c "ENV NODE_VERSION=$NODE_IMAGE_VERSION" \
    -c 'ENTRYPOINT ["docker-entrypoint.sh"]' -c 'CMD ["node"]' - "$NODE_IMAGE" >/dev/null
  rm -rf "$root"
}

rabbitmq_image() {
  if have_image "$RABBITMQ_IMAGE"; then say "$RABBITMQ_IMAGE (lookalike) already built"; return 0; fi
  say "building the lookalike $RABBITMQ_IMAGE from Debian trixie's rabbitmq-server (~1 min)"
  local root
  root=$(fresh_root rabbitmq)
  # The chart runs the broker as 999:999; the package keeps an existing rabbitmq user.
  chroot "$root" groupadd --system --gid 999 rabbitmq
  chroot "$root" useradd --system --uid 999 --gid rabbitmq --home-dir /var/lib/rabbitmq --shell /usr/sbin/nologin rabbitmq
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d" && chmod 0755 "$root/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc"
  local status=0
  chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server' \
    >"$LOGS/rabbitmq-image.log" 2>&1 || status=$?
  umount "$root/proc"
  [ "$status" -eq 0 ] || { tail -20 "$LOGS/rabbitmq-image.log"; exit 1; }
  rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/archives/"*.deb "$root/usr/sbin/policy-rc.d" "$root/var/lib/rabbitmq/"* "$root/var/log/rabbitmq/"*
  mkdir -p "$root/etc/rabbitmq/conf.d"
  # What the official image configures: console logs, the usual listeners; the chart's
  # own conf.d file and enabled_plugins are mounted over these.
  cat > "$root/etc/rabbitmq/conf.d/10-defaults.conf" <<'CONF'
loopback_users.guest = false
listeners.tcp.default = 5672
management.tcp.port = 15672
log.console = true
log.file = false
CONF
  echo '[rabbitmq_management,rabbitmq_prometheus].' > "$root/etc/rabbitmq/enabled_plugins"
  # Debian's /usr/sbin/rabbitmq-server wrapper sends the logs to a file: run the server
  # script itself, with the environment the official image gives it.
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/lib/rabbitmq/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV HOME=/var/lib/rabbitmq' -c 'ENV RABBITMQ_LOGS=-' -c 'USER 999:999' \
    -c 'EXPOSE 5672 15672 15692' -c 'CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]' - "$RABBITMQ_IMAGE" >/dev/null
  rm -rf "$root"
}

pause_image() {
  if have_image "$PAUSE_IMAGE"; then say "$PAUSE_IMAGE already built"; return 0; fi
  say "building $PAUSE_IMAGE from the Kubernetes source (build/pause/linux/pause.c)"
  local root
  root=$(mktemp -d)
  local source
  source=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .Dir)/build/pause/linux/pause.c
  gcc -Os -static -DVERSION=3.10 -o "$root/pause" "$source"
  strip "$root/pause"
  tar -C "$root" -c pause | docker import -c 'ENTRYPOINT ["/pause"]' -c 'USER 65535:65535' - "$PAUSE_IMAGE" >/dev/null
  rm -rf "$root"
}

# CoreDNS, built by binaries.sh, in an image of its own: one static binary, non-root.
coredns_image() {
  if have_image "$COREDNS_IMAGE"; then say "$COREDNS_IMAGE already built"; return 0; fi
  say "building $COREDNS_IMAGE from the CoreDNS binary"
  tar -C "$COREDNS_BIN" -c coredns | docker import -c 'ENTRYPOINT ["/coredns"]' -c 'USER 65532:65532' - "$COREDNS_IMAGE" >/dev/null
}

# The service images from their Dockerfiles, with the classic builder (BuildKit would
# fetch its frontend from a registry) on the host network (dockerd has no bridge).
service_images() {
  for service in handler producer; do
    say "docker build services/$service/Dockerfile -> switchyard-$service:$APP_VERSION"
    DOCKER_BUILDKIT=0 docker build --network host -f "$ROOT/services/$service/Dockerfile" \
      -t "switchyard-$service:$APP_VERSION" "$ROOT" >"$LOGS/build-$service.log" 2>&1 \
      || { tail -30 "$LOGS/build-$service.log"; exit 1; }
  done
}

# Copies images into the CRI's containerd when the one there differs.
import_images() {
  local images=("$PAUSE_IMAGE" "$COREDNS_IMAGE" "$RABBITMQ_IMAGE" "switchyard-handler:$APP_VERSION" "switchyard-producer:$APP_VERSION")
  local stale=() present
  present=$(ctr --address "$CONTAINERD_SOCK" -n k8s.io images ls -q)
  for image in "${images[@]}"; do
    local id name=$image
    # docker save names a short name docker.io/library/<name>, as the kubelet asks for it.
    [[ $image == */* ]] || name="docker.io/library/$image"
    id=$(docker image inspect -f '{{.Id}}' "$image")
    if grep -qxF "$name" <<<"$present" && [ "$(cat "$STATE/imported/${image//[\/:]/_}" 2>/dev/null)" = "$id" ]; then continue; fi
    stale+=("$image")
  done
  if [ ${#stale[@]} -eq 0 ]; then say "images already in the cluster's containerd"; return 0; fi
  say "importing into the cluster's containerd: ${stale[*]}"
  docker save "${stale[@]}" | ctr --address "$CONTAINERD_SOCK" -n k8s.io images import - >/dev/null
  mkdir -p "$STATE/imported"
  for image in "${stale[@]}"; do docker image inspect -f '{{.Id}}' "$image" > "$STATE/imported/${image//[\/:]/_}"; done
}

case "${1:-all}" in
  base) trixie_rootfs; node_image; rabbitmq_image; pause_image; coredns_image ;;
  services) service_images ;;
  import) import_images ;;
  all) trixie_rootfs; node_image; rabbitmq_image; pause_image; coredns_image; service_images; import_images ;;
esac
