#!/usr/bin/env bash
# Checks the release artifacts that scripts/release.sh put in $OUT (make package-test, part of
# make test). Runs as root on Debian without a running systemd:
#   1. binaries and archives: the cross-compiled linux/arm64 binary is a static aarch64 ELF,
#      --version names the manifest's version, archives hold what they promise, SHA256SUMS match;
#   2. the .deb: dpkg -i, files/conffiles/user/token file/unit in place (systemd-analyze verify
#      when installed), validate, the installed binary started as the package's user with the
#      installed config accepts telemetrygen's spans (counted by the collector's own
#      otelcol_receiver_accepted_spans metric) and refuses a wrong token, then dpkg -r keeps
#      only the configuration and dpkg -P removes it;
#   3. the .rpm: file list, config files and scripts (rpm -qlp / -qcp / --scripts);
#   4. the container image (when podman is installed): podman build, podman image inspect,
#      and the exported root file system run under chroot as 10001:10001 answering the health
#      check and accepting spans. (Running a container is not possible on the CI machines.)
# Ports are free random ones, set over the installed configs with yaml: overrides.
#
# Environment: OUT (dist/release), TELEMETRYGEN (telemetrygen), CONTAINER_TOOL (podman).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-dist/release}
telemetrygen=${TELEMETRYGEN:-telemetrygen}
podman=${CONTAINER_TOOL:-podman}
pkg=otelcol-custom
version=$(awk '/^[^[:space:]#]/ {in_dist = ($1 == "dist:")} in_dist && $1 == "version:" {print $2; exit}' builder-config.yaml)

if [[ $(id -u) -ne 0 ]]; then
	echo "package-test: must run as root (it installs and removes the .deb): sudo make package-test" >&2
	exit 1
fi

work=$(mktemp -d)
collector_pid=
image=
proc_mount=
cleanup() {
	if [[ -n $collector_pid ]]; then kill "$collector_pid" 2>/dev/null || true; fi
	if [[ -n $proc_mount ]]; then umount -l "$proc_mount" || true; fi
	if [[ -n $image ]]; then "$podman" rmi -f "$image" >/dev/null 2>&1 || true; fi
	if dpkg-query -W "$pkg" >/dev/null 2>&1; then dpkg -P "$pkg" >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

step() { echo "--- package-test: $*"; }
fail() {
	echo "package-test: FAIL: $*" >&2
	exit 1
}
check() { # check <description> <command...>: fail with the description unless the command succeeds
	local what=$1
	shift
	"$@" || fail "$what"
}

# A free TCP port on loopback outside the ephemeral range (racy like any such pick, but
# other tests use ephemeral ports and a collision only fails this run's start, loudly).
picked_ports=" "
free_port() { # sets $port
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000))
		if [[ $picked_ports != *" $p "* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			picked_ports+="$p "
			port=$p
			return
		fi
	done
	fail "no free port found"
}

# wait_http <url> <log>: until the URL answers 2xx (30 s), else print the log and fail.
wait_http() {
	for _ in $(seq 150); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return; fi
		if [[ -n $collector_pid ]] && ! kill -0 "$collector_pid" 2>/dev/null; then break; fi
		sleep 0.2
	done
	echo "collector log:" >&2
	tail -n 40 "$2" >&2
	fail "$1 did not answer"
}

# Sum of a counter family (all label sets) in the collector's Prometheus metrics.
metric_sum() {
	{ curl -fsS "$1" 2>/dev/null || true; } | awk -v name="$2" '$1 ~ "^" name "({|$)" {s += $NF} END {printf "%d\n", s}'
}

# send_traces <endpoint> <token file> <traces>: telemetrygen over gRPC with the first token
# of the file. telemetrygen exits 0 even when refused: callers count on the receiving side.
send_traces() {
	local token
	token=$(grep -v '^[[:space:]]*#' "$2" | grep -m1 . | sed 's/^[^:]*://')
	"$telemetrygen" traces --otlp-insecure --otlp-endpoint "$1" --rate 0 --traces "$3" \
		--otlp-header "Authorization=\"Bearer $token\"" >"$work/telemetrygen.log" 2>&1 ||
		fail "telemetrygen failed: $(sed "s/$token/<token>/g" "$work/telemetrygen.log" | tail -n 5)"
}

# expect_spans <metrics url> <n> <log>: otelcol_receiver_accepted_spans reaches n (20 s).
expect_spans() {
	local got=0
	for _ in $(seq 100); do
		got=$(metric_sum "$1" otelcol_receiver_accepted_spans)
		[[ $got -ge $2 ]] && break
		sleep 0.2
	done
	if [[ $got -ne $2 ]]; then
		tail -n 40 "$3" >&2
		fail "the collector accepted $got spans, want $2"
	fi
}

# ports_config: yaml: overrides moving every listener of a packaged config to free ports on
# <host>; sets $grpc, $health and $metrics.
ports_config() {
	local host=$1
	free_port; grpc=$port
	free_port; http=$port
	free_port; health=$port
	free_port; metrics=$port
	free_port; zpages=$port
	overrides=(
		"--config=yaml:receivers::otlp::protocols::grpc::endpoint: $host:$grpc"
		"--config=yaml:receivers::otlp::protocols::http::endpoint: $host:$http"
		"--config=yaml:extensions::health_check::endpoint: $host:$health"
		"--config=yaml:service::telemetry::metrics::readers: [{pull: {exporter: {prometheus: {host: '$host', port: $metrics}}}}]"
	)
	if [[ $2 == with-zpages ]]; then
		overrides+=("--config=yaml:extensions::zpages::endpoint: 127.0.0.1:$zpages")
	fi
}

# run_and_send <log> <token file> <command...>: start the collector, check health, accepted
# spans and a refused wrong token, stop it with SIGTERM and check it exited cleanly.
run_and_send() {
	local log=$1 tokens=$2
	shift 2
	"$@" >"$log" 2>&1 &
	collector_pid=$!
	wait_http "http://127.0.0.1:$health/" "$log"
	send_traces "127.0.0.1:$grpc" "$tokens" 10
	expect_spans "http://127.0.0.1:$metrics/metrics" 20 "$log" # telemetrygen: 2 spans per trace
	printf 'wrong:not-the-token\n' >"$work/wrong-token"
	send_traces "127.0.0.1:$grpc" "$work/wrong-token" 1
	sleep 1
	check "a wrong token must be refused" [ "$(metric_sum "http://127.0.0.1:$metrics/metrics" otelcol_receiver_accepted_spans)" -eq 20 ]
	check "the refusal must be counted" [ "$(metric_sum "http://127.0.0.1:$metrics/metrics" otelcol_bearerauth_server_refused_requests)" -ge 1 ]
	kill -TERM "$collector_pid"
	local status=0
	wait "$collector_pid" || status=$?
	collector_pid=
	[[ $status -eq 0 ]] || {
		tail -n 20 "$log" >&2
		fail "the collector exited with status $status on SIGTERM"
	}
	echo "    accepted 20 spans, refused a wrong token, stopped cleanly"
}

native=$(dpkg --print-architecture)

# --- 1. binaries and archives -----------------------------------------------------------
step "binaries and archives"
arm64=$out/linux/arm64/$pkg
check "$arm64 missing (PLATFORMS must include linux/arm64)" [ -x "$arm64" ]
desc=$(file -b "$arm64")
echo "    $arm64: $desc"
[[ $desc == *"ARM aarch64"* && $desc == *"statically linked"* ]] || fail "$arm64 is not a static aarch64 binary"
bin=$out/linux/$native/$pkg
[[ $(file -b "$bin") == *"statically linked"* ]] || fail "$bin is not statically linked"
v=$("$bin" --version)
echo "    $v"
[[ $v == "$pkg version $version"* ]] || fail "--version does not name the manifest version $version"
for a in "$out"/*.tar.gz; do
	listing=$(tar -tzf "$a")
	for f in "$pkg" README.md config/config.yaml config/demo-token config/data/demo-enrichment.yaml; do
		grep -qx "[^/]*/$f" <<<"$listing" || fail "$(basename "$a") lacks $f"
	done
done
(cd "$out" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match"
# The archive's sample config runs from the extracted directory.
tar -C "$work" -xzf "$out/${pkg}_${version}_linux_${native}.tar.gz"
(cd "$work/${pkg}_${version}_linux_${native}" && ./$pkg validate --config config/config.yaml) ||
	fail "the archive's sample config does not validate"

# --- 2. deb: install, run as the package's user, remove ----------------------------------
deb=$(compgen -G "$out/${pkg}_*_${native}.deb") || fail "no .deb for $native in $out"
step "deb: $(basename "$deb")"
if dpkg-query -W "$pkg" >/dev/null 2>&1; then dpkg -P "$pkg" >/dev/null; fi
dpkg -i "$deb" >/dev/null
for f in /usr/bin/$pkg /lib/systemd/system/$pkg.service /etc/$pkg/config.yaml /etc/$pkg/$pkg.conf \
	/usr/share/$pkg/demo-enrichment.yaml /usr/share/doc/$pkg/README.md; do
	check "$f must be installed" [ -f "$f" ]
done
check "/usr/bin/$pkg must be executable" [ -x /usr/bin/$pkg ]
conffiles=$(dpkg-query -W -f='${Conffiles}' "$pkg")
for f in /etc/$pkg/config.yaml /etc/$pkg/$pkg.conf; do
	grep -q " $f " <<<"$conffiles" || fail "$f must be a conffile"
done
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd $pkg) || fail "user $pkg must exist"
check "user $pkg must be a system user (uid $uid)" [ "$uid" -lt 1000 ]
check "user $pkg must have no login shell ($shell)" [ "$shell" = /usr/sbin/nologin ]
tokens=/etc/$pkg/tokens
check "$tokens must be generated" [ -f "$tokens" ]
check "$tokens must be root:$pkg 0640" [ "$(stat -c '%U:%G %a' "$tokens")" = "root:$pkg 640" ]
grep -qE '^default:[0-9a-f]{64}$' "$tokens" || fail "$tokens must hold a generated 256-bit token"
if grep -q otelcol-custom-demo-token "$tokens" /etc/$pkg/config.yaml; then fail "the package must not accept the public demo token"; fi
grep -q '^OTELCOL_OPTIONS="--config=/etc/otelcol-custom/config.yaml"$' /etc/$pkg/$pkg.conf || fail "$pkg.conf must set OTELCOL_OPTIONS"
unit=/lib/systemd/system/$pkg.service
for want in "User=$pkg" "EnvironmentFile=/etc/$pkg/$pkg.conf" "ExecStart=/usr/bin/$pkg \$OTELCOL_OPTIONS" \
	Restart=on-failure NoNewPrivileges=yes ProtectSystem=strict; do
	grep -qxF "$want" "$unit" || fail "$unit lacks $want"
done
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
	echo "    systemd-analyze verify: ok"
else
	echo "    systemd-analyze not installed: unit checked by content only"
fi
as_user=(setpriv --reuid=$pkg --regid=$pkg --init-groups --no-new-privs)
"${as_user[@]}" /usr/bin/$pkg validate --config /etc/$pkg/config.yaml || fail "the installed config does not validate"
# The service's command line: OTELCOL_OPTIONS from the environment file, as systemd reads it.
OTELCOL_OPTIONS=$(sed -n 's/^OTELCOL_OPTIONS="\(.*\)"$/\1/p' /etc/$pkg/$pkg.conf)
ports_config 127.0.0.1 with-zpages
# shellcheck disable=SC2086 # word splitting of OTELCOL_OPTIONS, as systemd does
run_and_send "$work/deb.log" "$tokens" "${as_user[@]}" /usr/bin/$pkg $OTELCOL_OPTIONS "${overrides[@]}"

dpkg -r "$pkg" >/dev/null
check "dpkg -r leaves the package in config-files state" [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg")" = config-files ]
for f in /etc/$pkg/config.yaml /etc/$pkg/$pkg.conf "$tokens"; do
	check "dpkg -r must keep $f" [ -f "$f" ]
done
for f in /usr/bin/$pkg "$unit" /usr/share/$pkg /usr/share/doc/$pkg; do
	check "dpkg -r must remove $f" [ ! -e "$f" ]
done
dpkg -P "$pkg" >/dev/null
check "dpkg -P must remove /etc/$pkg" [ ! -e /etc/$pkg ]
echo "    dpkg -r kept the conffiles and the token file, removed the rest; dpkg -P removed /etc/$pkg"

# --- 3. rpm ---------------------------------------------------------------------------------
rpm_arch=$(case $native in amd64) echo x86_64 ;; arm64) echo aarch64 ;; *) echo "$native" ;; esac)
rpmfile=$(compgen -G "$out/$pkg-*.$rpm_arch.rpm") || fail "no .rpm for $rpm_arch in $out"
step "rpm: $(basename "$rpmfile")"
if ! command -v rpm >/dev/null; then fail "rpm is not installed (make install-package-test-tools)"; fi
files=$(rpm -qlp "$rpmfile" 2>/dev/null)
for f in /usr/bin/$pkg /lib/systemd/system/$pkg.service /etc/$pkg/config.yaml /etc/$pkg/$pkg.conf /usr/share/$pkg/demo-enrichment.yaml; do
	grep -qx "$f" <<<"$files" || fail "the rpm lacks $f"
done
configs=$(rpm -qcp "$rpmfile" 2>/dev/null)
for f in /etc/$pkg/config.yaml /etc/$pkg/$pkg.conf; do
	grep -qx "$f" <<<"$configs" || fail "$f must be an rpm config file"
done
scripts=$(rpm -qp --scripts "$rpmfile" 2>/dev/null)
for want in "preinstall scriptlet" "postinstall scriptlet" "preuninstall scriptlet" "postuninstall scriptlet" \
	"useradd --system" "systemctl enable $pkg.service" /etc/$pkg/tokens; do
	grep -qF "$want" <<<"$scripts" || fail "the rpm's scripts lack '$want'"
done
echo "    files, config files and scripts in place"

# --- 4. container image ------------------------------------------------------------------
if ! command -v "$podman" >/dev/null; then
	step "image: SKIPPED: $podman is not installed (apt-get install podman failed): the image was not checked"
	exit 0
fi
step "image: $podman build"
image=localhost/$pkg:package-test-$$
"$podman" build -q --layers=false -f packaging/Containerfile --platform "linux/$native" --build-arg "VERSION=$version" \
	-t "$image" "$out/image" >/dev/null
inspect() { "$podman" image inspect --format "$1" "$image"; }
expect_inspect() { # expect_inspect <what> <format> <want>
	local got
	got=$(inspect "$2")
	[[ $got == "$3" ]] || fail "image $1 is $got, want $3"
}
expect_inspect user '{{.Config.User}}' 10001:10001
expect_inspect entrypoint '{{json .Config.Entrypoint}}' '["/otelcol-custom"]'
expect_inspect cmd '{{json .Config.Cmd}}' '["--config","/etc/otelcol-custom/config.yaml"]'
expect_inspect architecture '{{.Architecture}}' "$native"
ports=$(inspect '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')
for p in 4317/tcp 4318/tcp 13133/tcp; do
	[[ " $ports" == *" $p "* ]] || fail "image must expose $p (has: $ports)"
done
echo "    user 10001:10001, entrypoint, cmd, ports $ports"

rootfs=$work/rootfs
mkdir -p "$rootfs"
ctr=$("$podman" create "$image")
"$podman" export "$ctr" | tar -C "$rootfs" -x
"$podman" rm "$ctr" >/dev/null
for f in otelcol-custom etc/ssl/certs/ca-certificates.crt etc/otelcol-custom/config.yaml usr/share/otelcol-custom/demo-enrichment.yaml; do
	check "the image lacks /$f" [ -s "$rootfs/$f" ]
done
check "the image must have no shell" [ ! -e "$rootfs/bin/sh" ]
grep -q 'endpoint: 0.0.0.0:4317' "$rootfs/etc/otelcol-custom/config.yaml" || fail "the image's config must listen on 0.0.0.0"
# The token file an operator mounts (a Kubernetes Secret, podman run -v).
mkdir -p "$rootfs/etc/otelcol-custom/secrets"
printf 'ci:%s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$rootfs/etc/otelcol-custom/secrets/tokens"
chmod 0444 "$rootfs/etc/otelcol-custom/secrets/tokens"
ports_config 0.0.0.0 no-zpages
# A container runtime mounts /proc (memory_limiter reads the cgroup limit through it).
mkdir -p "$rootfs/proc"
if mount -t proc proc "$rootfs/proc"; then
	proc_mount=$rootfs/proc
else
	echo "    cannot mount /proc in the rootfs: memory_limiter gets a fixed limit_mib"
	overrides+=("--config=yaml:processors::memory_limiter: {check_interval: 1s, limit_mib: 256}")
fi
mapfile -t entrypoint < <("$podman" image inspect --format '{{range .Config.Entrypoint}}{{println .}}{{end}}{{range .Config.Cmd}}{{println .}}{{end}}' "$image" | grep .)
step "image: rootfs under chroot --userspec=10001:10001: ${entrypoint[*]}"
run_and_send "$work/image.log" "$rootfs/etc/otelcol-custom/secrets/tokens" \
	chroot --userspec=10001:10001 "$rootfs" "${entrypoint[@]}" "${overrides[@]}"
echo "    image size: $(inspect '{{.Size}}') bytes"
