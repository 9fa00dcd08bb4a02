#!/usr/bin/env bash
# Fails when the committed sources in dist/ are not what OCB generates from
# builder-config.yaml (run `make generate` and commit dist/ to fix).
#
# OCB writes the replace path of our local module relative to dist.output_path,
# so the sources are regenerated into a temporary directory at the same depth as
# dist/ (<repo>/.dist-check.XXXXXX), which yields the same `replace ... => ..`.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
builder=${BUILDER:-builder}
files=(main.go main_others.go main_windows.go components.go go.mod go.sum)

out=$(mktemp -d "$root/.dist-check.XXXXXX")
work=$(mktemp -d)
trap 'rm -rf "$out" "$work"' EXIT

sed -E "s#^([[:space:]]*output_path:).*#\1 ./$(basename "$out")#" "$root/builder-config.yaml" >"$work/builder-config.yaml"
if ! (cd "$root" && "$builder" --config "$work/builder-config.yaml" --skip-compilation) >"$work/builder.log" 2>&1; then
	cat "$work/builder.log" >&2
	echo "check-dist: OCB failed to generate the sources" >&2
	exit 1
fi

status=0
for f in "${files[@]}"; do
	if [[ ! -f "$root/dist/$f" ]]; then
		echo "check-dist: dist/$f is missing" >&2
		status=1
	elif ! diff -u --label "dist/$f (committed)" --label "dist/$f (generated)" "$root/dist/$f" "$out/$f" >&2; then
		status=1
	fi
done
if [[ $status -ne 0 ]]; then
	echo "check-dist: dist/ is stale: run 'make generate' and commit dist/" >&2
	exit 1
fi
echo "check-dist: dist/ matches builder-config.yaml"
