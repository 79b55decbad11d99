#!/usr/bin/env bash
# Checks the build output in public/: every page and asset is there and every local link resolves.
set -euo pipefail
cd "$(dirname "$0")/public"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[ -s index.html ] || fail "index.html is missing or empty"
grep -q '<title>[^<]' index.html || fail "index.html has no <title>"
[ "$(cat .well-known/health.txt)" = ok ] || fail ".well-known/health.txt does not say ok"
grep -Eqx '[0-9a-f]{12}' version.txt || fail "version.txt is not a build id"

# Every href/src in the HTML that is not a URL must name a file in public/.
checked=0
for ref in $(grep -Eho '(href|src)="[^"#?]+"' ./*.html | sed -E 's/^[a-z]+="(.*)"$/\1/'); do
  case "$ref" in
    http://* | https://* | //* | mailto:*) continue ;;
  esac
  [ -f "$ref" ] || fail "index.html links to $ref, which is not in public/"
  checked=$((checked + 1))
done

while IFS= read -r -d '' file; do
  [ -s "$file" ] || fail "$file is empty"
done < <(find . -type f -print0)

echo "ok: $(find . -type f | wc -l) files, $checked local links resolve"
