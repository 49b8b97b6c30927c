#!/usr/bin/env bash
# Rewrites the settings table of docs/configuration.md (between its settings: markers) from the
# code's catalogue (`stockroomctl settings --markdown`). A unit test fails while the two differ.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
doc="$repo/docs/configuration.md"
cd "$repo"
swift build --product stockroomctl >/dev/null
table="$(mktemp)"
trap 'rm -f "$table"' EXIT
"$(swift build --show-bin-path)/stockroomctl" settings --markdown >"$table"
grep -q '^<!-- settings:begin -->$' "$doc" && grep -q '^<!-- settings:end -->$' "$doc" \
    || { echo "settings-doc: $doc lacks the settings:begin/end markers" >&2; exit 1; }
awk -v table="$table" '
    /^<!-- settings:begin -->$/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /^<!-- settings:end -->$/ { skip = 0 }
    !skip { print }
' "$doc" >"$doc.new"
mv "$doc.new" "$doc"
echo "settings-doc: wrote the table of $doc"
