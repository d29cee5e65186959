#!/usr/bin/env bash
# Ensures the long-lived dev PostgreSQL container used by `make run` is up and
# prints its DSN on stdout; everything else goes to stderr.
#
#   test/postgres/dev.sh [IMAGE]
#
# IMAGE defaults to $POSTGRES_IMAGE, else the one `make postgres-image` chose
# (.bin/postgres-image), else creditd/postgres:15-bookworm. Data lives in the
# named volume creditd-dev-postgres-data, so it survives container removal.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
name=creditd-dev-postgres
volume=creditd-dev-postgres-data
port=${CREDITD_DEV_PG_PORT:-55432}
image=${1:-${POSTGRES_IMAGE:-}}
if [ -z "$image" ] && [ -s "$root/.bin/postgres-image" ]; then
	image=$(cat "$root/.bin/postgres-image")
fi
image=${image:-creditd/postgres:15-bookworm}

log() { echo "dev.sh: $*" >&2; }

state=$(docker container inspect -f '{{.State.Status}}' "$name" 2>/dev/null || true)
case "$state" in
	running) ;;
	paused) docker unpause "$name" >/dev/null ;;
	'')
		if ! docker image inspect "$image" >/dev/null 2>&1; then
			log "image $image not found; run: make postgres-image"
			exit 1
		fi
		log "creating $name from $image on 127.0.0.1:$port"
		# SIGINT = PostgreSQL's fast shutdown; SIGTERM would wait for clients.
		docker run -d --name "$name" --stop-signal SIGINT \
			-e POSTGRES_USER=creditd -e POSTGRES_PASSWORD=creditd -e POSTGRES_DB=creditd \
			-v "$volume:/var/lib/postgresql/data" -p "127.0.0.1:$port:5432" \
			"$image" >/dev/null
		;;
	*)
		log "starting $name (was $state)"
		docker start "$name" >/dev/null
		;;
esac

# Probe over TCP inside the container: during first-time init only a socket-only
# temporary server runs, which must not count as ready.
for _ in $(seq 120); do
	if docker exec "$name" pg_isready -q -h 127.0.0.1 -p 5432 -U creditd -d creditd; then
		# The container may predate a change of CREDITD_DEV_PG_PORT: report the real port.
		hostport=$(docker port "$name" 5432/tcp)
		hostport=${hostport%%$'\n'*}
		echo "postgres://creditd:creditd@127.0.0.1:${hostport##*:}/creditd?sslmode=disable"
		exit 0
	fi
	if [ "$(docker container inspect -f '{{.State.Status}}' "$name")" != running ]; then
		break
	fi
	sleep 0.5
done
log "$name did not become ready; last logs:"
docker logs --tail 30 "$name" >&2 || true
exit 1
