#!/usr/bin/env bash
# Ensures a PostgreSQL container is up and prints its DSN on stdout; everything
# else goes to stderr. `make run` uses it for the long-lived dev database and
# `make bench` for a throw-away one, so both run PostgreSQL the same way.
#
#   test/postgres/server.sh [IMAGE]
#
# IMAGE defaults to $POSTGRES_IMAGE, else the one `make postgres-image` chose
# (.bin/postgres-image), else creditd/postgres:15-bookworm. Settings:
#   CREDITD_PG_NAME       container name (creditd-dev-postgres)
#   CREDITD_DEV_PG_PORT   port on 127.0.0.1 (55432)
#   CREDITD_PG_VOLUME     named volume for the data (creditd-dev-postgres-data);
#                         empty: none, the data goes with the container
#   CREDITD_PG_FRESH=1    remove an existing container of that name first
#   CREDITD_PG_ARGS       extra server arguments, e.g. "-c max_connections=200"
#
# On Linux the container shares the host's network and the server itself
# listens on 127.0.0.1:PORT: a published port would put docker-proxy, a
# userland forwarder that costs about as much CPU as PostgreSQL under load,
# between every client and the server. Elsewhere the port is published.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
name=${CREDITD_PG_NAME:-creditd-dev-postgres}
volume=${CREDITD_PG_VOLUME-creditd-dev-postgres-data}
port=${CREDITD_DEV_PG_PORT:-55432}
image=${1:-${POSTGRES_IMAGE:-}}
if [ -z "$image" ] && [ -s "$root/.bin/postgres-image" ]; then
	image=$(cat "$root/.bin/postgres-image")
fi
image=${image:-creditd/postgres:15-bookworm}
read -r -a server_args <<<"${CREDITD_PG_ARGS:-}"

log() { echo "server.sh: $*" >&2; }

if [ "${CREDITD_PG_FRESH:-}" = 1 ]; then
	docker rm -f -v "$name" >/dev/null 2>&1 || true
fi

state=$(docker container inspect -f '{{.State.Status}}' "$name" 2>/dev/null || true)
case "$state" in
	running) ;;
	paused) docker unpause "$name" >/dev/null ;;
	'')
		if ! docker image inspect "$image" >/dev/null 2>&1; then
			log "image $image not found; run: make postgres-image"
			exit 1
		fi
		# TCP needs the password, from 127.0.0.1 too: initdb's default (the
		# official image keeps it) trusts loopback, which on the host network
		# is every local user's. The socket, inside the container, stays trusted.
		args=(--name "$name" --stop-signal SIGINT # SIGINT = fast shutdown; SIGTERM would wait for clients
			-e POSTGRES_USER=creditd -e POSTGRES_PASSWORD=creditd -e POSTGRES_DB=creditd
			-e POSTGRES_INITDB_ARGS="--auth-host=scram-sha-256 --auth-local=trust")
		if [ -n "$volume" ]; then
			args+=(-v "$volume:/var/lib/postgresql/data")
		fi
		if [ "$(uname -s)" = Linux ]; then
			args+=(--network host)
			server_args=(-c listen_addresses=127.0.0.1 -c "port=$port" "${server_args[@]}")
		else
			args+=(-p "127.0.0.1:$port:5432")
		fi
		log "creating $name from $image on 127.0.0.1:$port"
		docker run -d "${args[@]}" "$image" postgres "${server_args[@]}" >/dev/null
		;;
	*)
		log "starting $name (was $state)"
		docker start "$name" >/dev/null
		;;
esac

# Where the server listens, as the container was made (it may predate a
# change of CREDITD_DEV_PG_PORT): on the host network, its -c port; else the
# published port.
if [ "$(docker container inspect -f '{{.HostConfig.NetworkMode}}' "$name")" = host ]; then
	inner=$(docker container inspect -f '{{join .Args " "}}' "$name" | grep -o 'port=[0-9]*' | tail -1 | cut -d= -f2)
	outer=$inner
else
	inner=5432
	outer=$(docker port "$name" 5432/tcp)
	outer=${outer%%$'\n'*}
	outer=${outer##*:}
fi

# Says whether the server lets a wrong password in over TCP (exit 0), refuses
# it (exit 1), or fails otherwise (exit 2, with psql's message on stderr).
wrong_password_accepted() {
	local out
	if out=$(docker exec -e PGPASSWORD="wrong-$RANDOM" "$name" \
		psql -w -h 127.0.0.1 -p "$inner" -U creditd -d creditd -tAc 'SELECT 1' 2>&1); then
		return 0
	fi
	if [[ $out == *"password authentication failed"* ]]; then
		return 1
	fi
	echo "$out" >&2
	return 2
}

# Data volumes made before TCP needed a password trust 127.0.0.1: switch
# their trust lines for TCP to scram-sha-256 (the socket keeps trust) and
# have the server reread pg_hba.conf.
require_password() {
	local accepted=0
	wrong_password_accepted || accepted=$?
	case $accepted in
		1) return 0 ;;
		2) log "could not check that $name refuses a wrong password"; return 1 ;;
	esac
	log "$name let a wrong password in over TCP; requiring scram-sha-256 in its pg_hba.conf"
	docker exec -u postgres -e PGPORT="$inner" "$name" sh -c '
		sed -i -E "s/^(host[a-z]*[[:space:]].*[[:space:]])trust[[:space:]]*$/\1scram-sha-256/" "$PGDATA/pg_hba.conf" &&
		psql -q -U creditd -d creditd -c "SELECT pg_reload_conf()" >/dev/null'
	accepted=0
	wrong_password_accepted || accepted=$?
	if [ "$accepted" != 1 ]; then
		log "$name still does not refuse a wrong password; remove it and its volume (make clean)"
		return 1
	fi
}

# Probe over TCP inside the container: during first-time init only a
# socket-only temporary server runs, which must not count as ready.
for _ in $(seq 180); do
	if docker exec "$name" pg_isready -q -h 127.0.0.1 -p "$inner" -U creditd -d creditd; then
		require_password
		echo "postgres://creditd:creditd@127.0.0.1:$outer/creditd?sslmode=disable"
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
