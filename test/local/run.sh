#!/usr/bin/env bash
# `make run`: the whole product on this machine. PostgreSQL in Docker (unless
# DATABASE_URL names one), creditd (migrated, with the tenant "demo", its key
# and a catalog), the PortOne sandbox wired to creditd's webhook endpoints (V2's
# with the same secret, and V1's), and the demo shop, which sells through
# either; then it prints the one URL to open.
# Ctrl-C stops all of them, and the PostgreSQL container if this started it
# (its data volume stays, so orders and credits survive a restart).
#
# It expects make to have built .bin/creditd, .bin/portone-sandbox and
# .bin/demo-shop, and .bin/postgres-image. Settings (defaults):
#   CREDITD_ADDR            creditd's address (127.0.0.1:8080)
#   SANDBOX_ADDR            the PortOne sandbox (127.0.0.1:8090)
#   DEMO_SHOP_ADDR          the demo shop (127.0.0.1:8081)
#   DATABASE_URL            use this database instead of the Docker one
#   DEMO_KEY_FILE           the demo tenant's key, reused while it works (.bin/demo-api-key)
#   CREDITD_RUN_DIR         secrets made on first use (mode 0600), the services'
#                           logs and the sandbox's state (.bin/local)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$root/.bin
dir=${CREDITD_RUN_DIR:-$bin/local}
mkdir -p "$dir/logs"
chmod 700 "$dir"

export CREDITD_ADDR=${CREDITD_ADDR:-127.0.0.1:8080}
export SANDBOX_ADDR=${SANDBOX_ADDR:-127.0.0.1:8090}
export DEMO_SHOP_ADDR=${DEMO_SHOP_ADDR:-127.0.0.1:8081}
creditd_url=http://$CREDITD_ADDR
sandbox_url=http://$SANDBOX_ADDR
shop_url=http://$DEMO_SHOP_ADDR

log() { echo "make run: $*" >&2; }

# curl checks that each service answers and adds the demo catalog; a
# minimal Debian may lack it.
if ! command -v curl >/dev/null; then
	log "installing curl (Debian's package)"
	sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	{ $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq curl; } >&2
fi

# secret FILE COMMAND...: the file's content, made by COMMAND on first use.
secret() {
	local file=$1
	shift
	if [ ! -s "$file" ]; then
		(umask 077 && "$@" >"$file")
	fi
	cat "$file"
}

pids=()
started_pg=
stopping=
stop_all() {
	[ -n "$stopping" ] && return
	stopping=1
	trap - INT TERM
	if [ ${#pids[@]} -gt 0 ]; then
		kill -TERM "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
	if [ -n "$started_pg" ]; then
		docker stop "${CREDITD_PG_NAME:-creditd-dev-postgres}" >/dev/null 2>&1 || true
		log "stopped; PostgreSQL's data is kept (make clean removes it)"
	else
		log "stopped"
	fi
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

# wait_for NAME URL PID: until URL answers, or the process dies.
wait_for() {
	local name=$1 url=$2 pid=$3
	for _ in $(seq 1 150); do
		if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$name exited at start; its log, $dir/logs/$name.log, ends:"
			tail -n 20 "$dir/logs/$name.log" >&2
			exit 1
		fi
		sleep 0.2
	done
	log "$name did not answer $url within 30 s; see $dir/logs/$name.log"
	exit 1
}

# start NAME COMMAND...: runs it in the background, its output in logs/NAME.log.
start() {
	local name=$1
	shift
	"$@" >>"$dir/logs/$name.log" 2>&1 &
	pids+=($!)
}

if [ -z "${DATABASE_URL:-}" ]; then
	DATABASE_URL=$(bash "$root/test/postgres/server.sh" "$(cat "$bin/postgres-image")")
	started_pg=1
fi
export DATABASE_URL

"$bin/creditd" migrate
key_file=${DEMO_KEY_FILE:-$bin/demo-api-key}
if [ -s "$key_file" ] && "$bin/creditd" apikey check <"$key_file" >/dev/null 2>&1; then
	key=$(cat "$key_file")
else
	[ -s "$key_file" ] && log "the demo API key in $key_file no longer works (a new database?); making another"
	key=$("$bin/creditd" apikey create --tenant demo)
	(umask 077 && echo "$key" >"$key_file")
fi

# The sandbox and creditd share PortOne's settings as a real store would:
# the API secret creditd calls with, the store, the channel, and the webhook
# secret the sandbox signs with and creditd verifies; for V1 (iamport) the
# imp_key and imp_secret creditd calls with and the store's imp code.
random() { head -c "$1" /dev/urandom | base64 | tr -d '\n='; }
export SANDBOX_API_SECRET SANDBOX_WEBHOOK_SECRET SANDBOX_STORE_ID SANDBOX_CHANNEL_KEY
SANDBOX_API_SECRET=$(secret "$dir/sandbox-api-secret" random 24)
SANDBOX_WEBHOOK_SECRET=whsec_$(secret "$dir/sandbox-webhook-key" sh -c 'head -c 24 /dev/urandom | base64')
SANDBOX_STORE_ID=${SANDBOX_STORE_ID:-store-sandbox}
SANDBOX_CHANNEL_KEY=${SANDBOX_CHANNEL_KEY:-channel-key-sandbox}
export SANDBOX_WEBHOOK_URL=$creditd_url/webhooks/portone
export SANDBOX_V1_IMP_KEY SANDBOX_V1_IMP_SECRET SANDBOX_V1_IMP_CODE
SANDBOX_V1_IMP_KEY=${SANDBOX_V1_IMP_KEY:-sandbox-imp-key}
SANDBOX_V1_IMP_SECRET=$(secret "$dir/sandbox-v1-imp-secret" random 24)
SANDBOX_V1_IMP_CODE=${SANDBOX_V1_IMP_CODE:-imp00000000}
export SANDBOX_V1_WEBHOOK_URL=$creditd_url/webhooks/portone/v1
start portone-sandbox "$bin/portone-sandbox" -state "$dir/sandbox-state.json"
wait_for portone-sandbox "$sandbox_url/sandbox/payments" "${pids[-1]}"

start creditd env \
	PORTONE_API_URL="$sandbox_url" \
	PORTONE_API_SECRET="$SANDBOX_API_SECRET" \
	PORTONE_STORE_ID="$SANDBOX_STORE_ID" \
	PORTONE_CHANNEL_KEY="$SANDBOX_CHANNEL_KEY" \
	PORTONE_WEBHOOK_SECRETS="$SANDBOX_WEBHOOK_SECRET" \
	PORTONE_V1_API_URL="$sandbox_url/v1compat" \
	PORTONE_V1_IMP_KEY="$SANDBOX_V1_IMP_KEY" \
	PORTONE_V1_IMP_SECRET="$SANDBOX_V1_IMP_SECRET" \
	PORTONE_V1_IMP_CODE="$SANDBOX_V1_IMP_CODE" \
	PORTONE_V1_PG=html5_inicis \
	CREDITD_RECONCILE_INTERVAL=1m \
	CREDITD_EVENTS_ALLOW_PRIVATE_URLS=true \
	"$bin/creditd" serve
wait_for creditd "$creditd_url/readyz" "${pids[-1]}"

# The demo catalog. A pack's id makes creating it safe to repeat: 409
# already-exists means an earlier run made it.
add_pack() {
	local status
	status=$(curl -sS -o "$dir/logs/catalog.json" -w '%{http_code}' -X POST "$creditd_url/v1/products" \
		-H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d "$1")
	case "$status" in
		201 | 409) ;;
		*) log "adding a pack answered $status: $(cat "$dir/logs/catalog.json")"; exit 1 ;;
	esac
}
add_pack '{"id":"starter","name":"Starter","price":"9900","currency":"KRW","credits":"100","creditValidityDays":365}'
add_pack '{"id":"creator","name":"Creator","price":"45000","currency":"KRW","credits":"500","bonusCredits":"50","creditValidityDays":365}'
add_pack '{"id":"studio","name":"Studio","price":"85000","currency":"KRW","credits":"1000","bonusCredits":"200","creditValidityDays":365}'

start demo-shop env \
	CREDITD_URL="$creditd_url" \
	CREDITD_API_KEY="$key" \
	PORTONE_BROWSER_SDK_URL="$sandbox_url/v2/browser-sdk.js" \
	PORTONE_V1_BROWSER_SDK_URL="$sandbox_url/v1/iamport.js" \
	"$bin/demo-shop"
wait_for demo-shop "$shop_url/" "${pids[-1]}"

cat <<MSG

  Open $shop_url and buy some credits.

  demo shop         $shop_url
  PortOne sandbox   $sandbox_url/sandbox/  (payments, webhooks, deposits, faults)
  creditd API       $creditd_url
  demo API key      $key  (kept in $key_file)
  logs              $dir/logs/

  Ctrl-C stops everything.

MSG

# Whichever ends first (Ctrl-C, or a service dying) stops the rest.
set +e
wait -n "${pids[@]}"
status=$?
log "a service exited ($status); stopping the others. Logs: $dir/logs/"
exit 1
