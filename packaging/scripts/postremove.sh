#!/bin/sh
# otelcol-custom deb/rpm post-remove. Removal keeps the conffiles and the generated
# /etc/otelcol-custom/tokens (like any configuration); deb "purge" deletes them and the
# state directory. The otelcol-custom user stays (files it owned may remain on disk).
set -e

case "$1" in
purge)
	rm -f /etc/otelcol-custom/tokens
	rmdir /etc/otelcol-custom 2>/dev/null || true
	rm -rf /var/lib/otelcol-custom
	;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
	systemctl daemon-reload || true
fi
