#!/usr/bin/env bash
# Formats the package with swift-format (bundled with the Swift 6 toolchain as `swift format`)
# using the repository's .swift-format. Generated tables (*/Generated/*) are left as generated.
#   scripts/format.sh           rewrite the files in place
#   scripts/format.sh --check   change nothing; list every difference and exit non-zero if any
set -euo pipefail
cd "$(dirname "$0")/.."

mode=format
case "${1:-}" in
    --check) mode=check ;;
    "") ;;
    *) echo "usage: scripts/format.sh [--check]" >&2; exit 64 ;;
esac

files=()
while IFS= read -r f; do files+=("$f"); done < <(
    { find Sources Tests -name '*.swift' -not -path '*/Generated/*'; echo Package.swift; } | LC_ALL=C sort)

if [ "$mode" = check ]; then
    exec swift format lint --strict --configuration .swift-format --parallel "${files[@]}"
else
    exec swift format format --in-place --configuration .swift-format --parallel "${files[@]}"
fi
