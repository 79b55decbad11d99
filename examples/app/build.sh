#!/usr/bin/env bash
# Assembles src/ into public/, the directory the action ships (`artifact: public`).
set -euo pipefail
cd "$(dirname "$0")"

rm -rf public
mkdir -p public
cp -R src/. public/

# The build id: a hash of the sources, so an unchanged source tree builds byte-identical output.
find src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12 >public/version.txt

# A health-check file in a dot-directory (dotfiles are shipped too).
mkdir -p public/.well-known
printf 'ok\n' >public/.well-known/health.txt

echo "built public/ ($(find public -type f | wc -l) files, build $(cat public/version.txt))"
