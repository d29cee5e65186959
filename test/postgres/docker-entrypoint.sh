#!/bin/bash
# Entrypoint of the locally built creditd/postgres image (see build-image.sh).
# It mimics the official postgres image closely enough that the same env vars
# work and testcontainers-go's postgres.BasicWaitStrategies() is satisfied: the
# line "database system is ready to accept connections" is logged twice, once
# by the temporary init server (unix socket only) and once by the real one.
set -Eeuo pipefail

# Official-image convention: `docker run img -c fsync=off` means postgres args.
if [ "$#" -eq 0 ] || [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

# Anything other than the server (e.g. `bash`) runs as is.
if [ "$1" != 'postgres' ]; then
	exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

# As root: fix ownership of the data dir (a fresh volume is root-owned) and
# re-exec this script as the postgres user; the server refuses to run as root.
if [ "$(id -u)" = '0' ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	chmod 2775 /var/run/postgresql
	exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	POSTGRES_USER="${POSTGRES_USER:-postgres}"
	POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
	POSTGRES_HOST_AUTH_METHOD="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
		echo >&2 'error: database is uninitialized and POSTGRES_PASSWORD is not set' \
			'(set it, or POSTGRES_HOST_AUTH_METHOD=trust to allow passwordless access)'
		exit 1
	fi

	# Socket access is trusted (only processes inside the container reach it);
	# TCP, loopback included, uses POSTGRES_HOST_AUTH_METHOD. initdb's own
	# default trusts 127.0.0.1, which on the host network (server.sh) is every
	# local user's. POSTGRES_INITDB_ARGS come last, so they can override this.
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list, as in the official image
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
		--encoding=UTF8 --locale=en_US.UTF-8 \
		--auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" ${POSTGRES_INITDB_ARGS:-}

	# The sample config only listens on localhost; containers need '*'.
	echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
	# initdb's lines cover loopback; this one every other address.
	echo "host all all all $POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

	# Temporary server, socket only, so nobody can connect before init is done.
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start

	psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
	if [ "$POSTGRES_DB" != 'postgres' ]; then
		"${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db";
		EOSQL
	fi

	# Same hook as the official image (testcontainers' WithInitScripts uses it).
	shopt -s nullglob
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh) echo "running $f"; bash "$f" ;;
			*.sql) echo "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
			*.sql.gz) echo "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
			*) echo "ignoring $f" ;;
		esac
	done

	pg_ctl -D "$PGDATA" -m fast -w stop
	echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
