#!/bin/sh
# otelcol-custom deb/rpm pre-remove: stop and disable the service on removal (deb "remove",
# rpm 0), not on upgrade (deb "upgrade", rpm 1), where post-install restarts it.
set -e

case "$1" in
remove | 0)
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		systemctl stop otelcol-custom.service || true
		systemctl disable otelcol-custom.service || true
	fi
	;;
esac
