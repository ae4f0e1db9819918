#!/usr/bin/env bash
# skaffold build hook (profile `cluster`): copies the image skaffold just built with
# dockerd into the cluster's containerd, where the kubelet finds it (no registry here).
# skaffold sets SKAFFOLD_IMAGE to the image's name and tag; an image it does not push it
# deploys as <name>:<image ID>, so the image goes over under that name too.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${SKAFFOLD_IMAGE:?run by skaffold as a build hook}"
docker() { command docker -H "$DOCKER_HOST" "$@"; }
id=$(docker image inspect -f '{{.Id}}' "$SKAFFOLD_IMAGE")
by_id="${SKAFFOLD_IMAGE%:*}:${id#sha256:}"
docker tag "$SKAFFOLD_IMAGE" "$by_id"
say "importing $SKAFFOLD_IMAGE (also as $by_id) into the cluster's containerd"
docker save "$SKAFFOLD_IMAGE" "$by_id" | ctr --address "$CONTAINERD_SOCK" -n k8s.io images import - >/dev/null
