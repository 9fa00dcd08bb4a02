#!/usr/bin/env bash
# Fails when the committed mdatagen output is not what `go generate ./...` makes
# from each metadata.yaml (run `make generate` and commit to fix).
#
# The tree is regenerated in a copy, so the check never rewrites the checkout and
# a stale file stays reported until the fix is committed or made by hand.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
go=${GO:-go}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

tar -C "$root" --exclude=./.git --exclude=./dist --exclude=./bench/_e2e --exclude='./.dist-check.*' -cf - . | tar -C "$out" -xf -
if ! (cd "$out" && "$go" generate ./...) >"$out/.generate.log" 2>&1; then
	cat "$out/.generate.log" >&2
	echo "check-generate: go generate failed" >&2
	exit 1
fi

dirs=$(cd "$root" && find . -name metadata.yaml -not -path './dist/*' -not -path './.git/*' -not -path './internal/tools/*' -not -path './bench/*' -printf '%h\n' | sort)
stale=()
for d in $dirs; do
	d=${d#./}
	if ! grep -qs '^//go:generate .*mdatagen' "$root/$d/doc.go"; then
		echo "check-generate: $d/doc.go has no //go:generate line for mdatagen" >&2
		stale+=("$d")
	elif ! diff -ru "$root/$d" "$out/$d" >&2; then
		stale+=("$d")
	fi
done
(( ${#stale[@]} == 0 )) || {
	echo "check-generate: stale mdatagen output in ${stale[*]}: run 'make generate' and commit the result" >&2
	exit 1
}
echo "check-generate: mdatagen output matches every metadata.yaml"
