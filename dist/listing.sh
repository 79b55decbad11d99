# shellcheck shell=sh
# Lists every entry under the current directory (type, mode, path; symlink targets), NUL-separated,
# then a marker, then the sha256 of every file, in one find and no xargs: names with a newline or
# backslash as `sha256sum -z` records ("<hex>  ./<path>" NUL), the rest as `openssl dgst -r` lines
# ("<hex> *./<path>" newline), in either order. OpenSSL uses the CPU's SHA instructions (3x
# coreutils on this project's machine) but escapes those names; without openssl, sha256sum
# hashes everything. Prepended to the stage programs after lib.sh.
list_and_hash() {
  find . -mindepth 1 \( -type f -printf 'f %m %P\0' \) -o \( -type d -printf 'd %m %P\0' \) \
    -o \( -type l -printf 'l 0 %P\0%l\0' \) || fail 'cannot list the release'
  printf '%s\0' "$GD_HASHES"
  nl='
'
  if command -v openssl > /dev/null 2>&1; then
    find . -type f \( \( -path "*$nl*" -o -path '*\\*' \) -exec sha256sum -z -- {} + \
      -o -exec openssl dgst -sha256 -r {} + \) || fail 'cannot hash the release'
  else
    find . -type f -exec sha256sum -z -- {} + || fail 'cannot hash the release'
  fi
}
