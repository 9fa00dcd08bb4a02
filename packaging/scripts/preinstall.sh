#!/bin/sh
# otelcol-custom deb/rpm pre-install: create the system user and group the service runs as.
# deb passes "install" or "upgrade", rpm 1 (install) or 2 (upgrade); both cases are the same.
set -e

if ! getent group otelcol-custom >/dev/null; then
	groupadd --system otelcol-custom
fi
if ! getent passwd otelcol-custom >/dev/null; then
	useradd --system --gid otelcol-custom --no-create-home \
		--home-dir /var/lib/otelcol-custom --shell /usr/sbin/nologin \
		--comment "otelcol-custom OpenTelemetry Collector" otelcol-custom
fi
