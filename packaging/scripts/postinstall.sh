#!/bin/sh
# otelcol-custom deb/rpm post-install.
# - Writes a random bearer token for this host into /etc/otelcol-custom/tokens unless that
#   file exists: the package ships no token, so no two hosts share one and none is public.
#   The file is the operator's from then on (edits are reloaded live; kept on upgrade).
# - With a running systemd: reload units, enable the service, and (re)start it.
set -e

tokens=/etc/otelcol-custom/tokens
if [ ! -e "$tokens" ]; then
	token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	(
		umask 027
		{
			echo "# Bearer tokens accepted by otelcol-custom: one per line, \"token\" or \"name:token\"."
			echo "# Generated at install for this host; replace or add your own (reloaded live)."
			echo "default:$token"
		} >"$tokens.tmp"
	)
	chown root:otelcol-custom "$tokens.tmp"
	chmod 0640 "$tokens.tmp"
	mv "$tokens.tmp" "$tokens"
fi

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
	systemctl daemon-reload
	systemctl enable otelcol-custom.service
	# Upgrades restart a running collector; a first install starts it.
	systemctl restart otelcol-custom.service
fi
