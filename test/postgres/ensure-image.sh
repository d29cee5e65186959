#!/usr/bin/env bash
# Picks the PostgreSQL image for tests and `make run`, making it exist if need
# be, and prints its name on stdout (chatter goes to stderr). In order:
#   1. $POSTGRES_IMAGE, if present locally or pullable;
#   2. postgres:16 (the official image), if present locally or pullable;
#   3. the Debian-built image (test/postgres/build-image.sh), installing
#      debootstrap first when it is missing. That build is a no-op when done.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
official=postgres:16
local_image=${CREDITD_PG_IMAGE:-creditd/postgres:15-bookworm}

log() { echo "postgres-image: $*" >&2; }

available() {
	docker image inspect "$1" >/dev/null 2>&1 && return 0
	# Without a registry this fails within a second.
	if docker pull -q "$1" >/dev/null 2>&1; then
		log "pulled $1"
		return 0
	fi
	log "$1 is not present and cannot be pulled"
	return 1
}

if [ -n "${POSTGRES_IMAGE:-}" ] && available "$POSTGRES_IMAGE"; then
	echo "$POSTGRES_IMAGE"
	exit 0
fi
if available "$official"; then
	echo "$official"
	exit 0
fi

if ! command -v debootstrap >/dev/null; then
	log "installing debootstrap"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y debootstrap >&2
fi
bash "$here/build-image.sh" "$local_image" >&2
echo "$local_image"
