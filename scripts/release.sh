#!/usr/bin/env bash
# Release build (make release / make package-test): from builder-config.yaml,
#   - static binaries (CGO_ENABLED=0) for $PLATFORMS in $OUT/<os>/<arch>/,
#   - an archive per platform (tar.gz, zip for windows) with the binary, README.md and the
#     sample config (config/ as in the repository: run ./otelcol-custom --config config/config.yaml
#     from the extracted directory),
#   - deb and rpm packages (nfpm, packaging/nfpm.yaml) for every linux platform,
#   - the container image's build context in $OUT/image (packaging/Containerfile),
#   - SHA256SUMS of the archives and packages.
# `otelcol-custom --version` prints the manifest's version, plus "+<commit>" when built from a
# git checkout (".dirty" when it has uncommitted changes). Archive and package names carry the
# manifest's version only. File times are the commit's (SOURCE_DATE_EPOCH), so a rebuild of a
# commit gives the same archives and packages.
#
# Environment: BUILDER (OCB), NFPM, PLATFORMS ("linux/amd64 linux/arm64 darwin/arm64
# windows/amd64" by default), OUT (dist/release), GO (go).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
builder=${BUILDER:-builder}
nfpm=${NFPM:-nfpm}
go=${GO:-go}
platforms=${PLATFORMS:-linux/amd64 linux/arm64 darwin/arm64 windows/amd64}
out=${OUT:-dist/release}
name=otelcol-custom

# dist.version of builder-config.yaml (the first "version:" inside the top-level dist: block).
version=$(awk '/^[^[:space:]#]/ {in_dist = ($1 == "dist:")} in_dist && $1 == "version:" {print $2; exit}' builder-config.yaml)
if [[ -z "$version" ]]; then
	echo "release: no dist.version in builder-config.yaml" >&2
	exit 1
fi

# git may refuse a checkout owned by another user ("dubious ownership", CI running as root on
# a clone it did not create): safe.directory accepts it for this read-only query; without git
# or outside a checkout the version has no commit.
git_() { git -c safe.directory='*' -C "$root" "$@" 2>/dev/null; }
binary_version=$version
if commit=$(git_ rev-parse --short=12 HEAD); then
	binary_version+="+$commit"
	if ! git_ diff --quiet HEAD; then
		binary_version+=".dirty"
	fi
	SOURCE_DATE_EPOCH=$(git_ log -1 --format=%ct HEAD)
else
	echo "release: not a git checkout (or git unavailable): version $version without commit" >&2
	SOURCE_DATE_EPOCH=$(stat -c %Y builder-config.yaml)
fi
export SOURCE_DATE_EPOCH

rm -rf "$out"
mkdir -p "$out"
src=$out/src
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# OCB writes the sources with the version to print; output_path below dist/ keeps the local
# replace (written relative to it) pointing at this checkout.
sed -E -e "s#^([[:space:]]*output_path:).*#\1 ./$src#" \
	-e "0,/^([[:space:]]+version:).*/s##\1 $binary_version#" builder-config.yaml >"$work/builder-config.yaml"
if ! "$builder" --config "$work/builder-config.yaml" --skip-compilation >"$work/builder.log" 2>&1; then
	cat "$work/builder.log" >&2
	echo "release: OCB failed to generate the sources" >&2
	exit 1
fi
grep -q "Version: *\"$binary_version\"" "$src/main.go" || {
	echo "release: $src/main.go does not carry version $binary_version" >&2
	exit 1
}

echo "release: $name $binary_version for $platforms"
for platform in $platforms; do
	os=${platform%/*}
	arch=${platform#*/}
	exe=$name
	[[ $os == windows ]] && exe+=.exe
	bin=$out/$os/$arch/$exe
	mkdir -p "$(dirname "$bin")"
	# The flags OCB's own compile step uses (so a native build shares its build cache).
	(cd "$src" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOFLAGS=-buildvcs=false \
		"$go" build -trimpath -ldflags="-s -w" -gcflags= -o "$root/$bin" .)

	stage=$work/${name}_${version}_${os}_${arch}
	mkdir -p "$stage/config/data"
	cp "$bin" "$stage/"
	cp README.md "$stage/"
	cp config/config.yaml config/demo-token "$stage/config/"
	cp config/data/demo-enrichment.yaml "$stage/config/data/"
	find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	base=$(basename "$stage")
	if [[ $os == windows ]]; then
		(cd "$work" && find "$base" | LC_ALL=C sort | zip -q -X -@ "$root/$out/$base.zip")
	else
		tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
			-cf - "$base" | gzip -n >"$out/$base.tar.gz"
	fi

	if [[ $os == linux ]]; then
		for packager in deb rpm; do
			PKG_VERSION=$version PKG_ARCH=$arch PKG_BINARY=$bin \
				"$nfpm" package --config packaging/nfpm.yaml --packager "$packager" --target "$out/" >/dev/null
		done
		mkdir -p "$out/image/linux/$arch"
		cp "$bin" "$out/image/linux/$arch/"
	fi
done

# Container build context: the binaries above plus the image's config, the sample enrichment
# data and the build host's CA bundle (Debian's ca-certificates: a FROM scratch image has none).
if [[ -d $out/image ]]; then
	cp packaging/container/config.yaml "$out/image/config.yaml"
	cp config/data/demo-enrichment.yaml "$out/image/"
	ca=/etc/ssl/certs/ca-certificates.crt
	if [[ -s $ca ]]; then
		cp "$ca" "$out/image/"
	else
		echo "release: $ca missing (apt-get install ca-certificates): the image cannot be built" >&2
	fi
fi

(cd "$out" && sha256sum -- *.tar.gz $(compgen -G '*.zip') $(compgen -G '*.deb') $(compgen -G '*.rpm') >SHA256SUMS)
echo "release: artifacts in $out:"
(cd "$out" && ls -l --time-style=+ -- *.tar.gz $(compgen -G '*.zip') $(compgen -G '*.deb') $(compgen -G '*.rpm') SHA256SUMS | awk '{printf "  %10d  %s\n", $5, $NF}')
