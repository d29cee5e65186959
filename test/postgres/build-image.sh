#!/usr/bin/env bash
# Builds a PostgreSQL 15 image from Debian bookworm's own packages, for machines
# whose Docker cannot pull postgres:16 (no registry). Needs root and debootstrap.
#
#   test/postgres/build-image.sh [IMAGE]
#
# IMAGE defaults to $CREDITD_PG_IMAGE, else creditd/postgres:15-bookworm.
# The Debian mirror is read from this machine's apt sources (DEBIAN_MIRROR is
# the fallback), so no mirror host is baked into the repository.
# Builds once: an image carrying the same recipe hash label is left alone.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image=${1:-${CREDITD_PG_IMAGE:-creditd/postgres:15-bookworm}}
suite=bookworm
label=org.creditd.postgres.recipe

log() { echo "build-image: $*" >&2; }

# Any change to this script or the entrypoint changes the hash, forcing a rebuild.
recipe=$(cat "$here/build-image.sh" "$here/docker-entrypoint.sh" | sha256sum | cut -c1-16)
current=$(docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$image" 2>/dev/null || true)
if [ "$current" = "$recipe" ]; then
	log "$image is up to date (recipe $recipe)"
	exit 0
fi

# Prints the first http(s) URI that the machine's apt uses for $suite.
mirror_from_apt() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# deb822 stanzas are separated by blank lines.
		uri=$(awk -v suite="$suite" '
			function flush() {
				if (!found && uris != "" && (" " types " ") ~ / deb / &&
				    (" " suites " ") ~ (" " suite " ") && tolower(enabled) != "no") {
					split(uris, u, /[ \t]+/); print u[1]; found = 1
				}
				types = suites = uris = enabled = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^[ \t]*#/ { next }
			{
				key = tolower($0); sub(/:.*/, "", key)
				val = $0; sub(/^[^:]*:[ \t]*/, "", val)
				if (key == "types") types = val
				else if (key == "suites") suites = val
				else if (key == "uris") uris = val
				else if (key == "enabled") enabled = val
			}
			END { flush() }' "$f")
		case "$uri" in http://* | https://*) echo "$uri"; return ;; esac
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		# deb [options] URI SUITE COMPONENTS...
		uri=$(awk -v suite="$suite" '
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == suite) { print $i; exit }
			}' "$f")
		case "$uri" in http://* | https://*) echo "$uri"; return ;; esac
	done
}

if [ "$(id -u)" != 0 ]; then
	log "must run as root (debootstrap needs it)"
	exit 1
fi
if ! command -v debootstrap >/dev/null; then
	log "debootstrap is missing: apt-get update && apt-get install -y debootstrap"
	exit 1
fi
mirror=$(mirror_from_apt)
mirror=${mirror:-${DEBIAN_MIRROR:-}}
if [ -z "$mirror" ]; then
	log "no $suite mirror found in /etc/apt sources; set DEBIAN_MIRROR"
	exit 1
fi

start=$SECONDS
# /var/tmp rather than /tmp: the chroot needs exec and device nodes, which a
# tmpfs /tmp may forbid.
work=$(mktemp -d "${CREDITD_PG_BUILD_TMP:-/var/tmp}/creditd-pg-image.XXXXXX")
rootfs=$work/rootfs
cleanup() {
	# debootstrap can leave proc/sys mounted when it fails: never rm through a mount.
	awk -v r="$rootfs" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" || true; done
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

log "debootstrap $suite from $mirror into $rootfs"
# locales lets initdb use en_US.UTF-8 like the official image.
debootstrap --variant=minbase --components=main --include=postgresql-15,locales \
	"$suite" "$rootfs" "$mirror" >&2

chroot "$rootfs" localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8

# postgresql-common's postinst created a "main" cluster we never use.
rm -rf "$rootfs/var/lib/postgresql/15" "$rootfs/etc/postgresql/15"
# Trim what a server container never reads (keep zoneinfo and locale.alias).
rm -rf "$rootfs"/usr/share/{doc,man,info,i18n}/* "$rootfs"/var/cache/apt/* \
	"$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/debconf/*-old
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
find "$rootfs/var/log" -type f -delete

install -m 0755 "$here/docker-entrypoint.sh" "$rootfs/usr/local/bin/docker-entrypoint.sh"
mkdir -p "$rootfs/docker-entrypoint-initdb.d" "$rootfs/var/lib/postgresql/data" "$rootfs/run/postgresql"
chroot "$rootfs" chown postgres:postgres /var/lib/postgresql/data /run/postgresql
chmod 700 "$rootfs/var/lib/postgresql/data"
chmod 2775 "$rootfs/run/postgresql"

log "importing $image"
# Docker provides /dev, /proc and /sys itself. STOPSIGNAL is not allowed in
# `docker import --change`; server.sh passes --stop-signal SIGINT instead.
tar -C "$rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . |
	docker import \
		--change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
		--change 'CMD ["postgres"]' \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/lib/postgresql/15/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENV PGDATA=/var/lib/postgresql/data' \
		--change 'ENV LANG=en_US.utf8' \
		--change 'VOLUME /var/lib/postgresql/data' \
		--change 'EXPOSE 5432' \
		--change "LABEL $label=$recipe" \
		- "$image" >/dev/null

size=$(docker image inspect -f '{{.Size}}' "$image")
log "built $image (recipe $recipe, $((size / 1024 / 1024)) MiB) in $((SECONDS - start))s"
