#!/usr/bin/env bash
# Prints the path of a Chromium for the browser end-to-end tests, installing
# Debian's `chromium` package first when none is there (root or sudo needed).
# `make test` runs it; a failure here fails the run rather than letting the
# browser tests skip.
set -euo pipefail

find_browser() {
	for b in chromium chromium-browser google-chrome; do
		if command -v "$b" >/dev/null 2>&1; then
			command -v "$b"
			return 0
		fi
	done
	return 1
}

if find_browser; then
	exit 0
fi
echo "ensure-chromium.sh: no Chromium found; installing Debian's chromium package" >&2
sudo=
if [ "$(id -u)" != 0 ]; then
	if ! command -v sudo >/dev/null; then
		echo "ensure-chromium.sh: not root and no sudo: install chromium yourself (apt-get install chromium)" >&2
		exit 1
	fi
	sudo=sudo
fi
# Output goes to stderr: stdout carries only the browser's path.
{
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
} >&2
find_browser
