# shellcheck shell=sh
# Lists every entry under the current directory (type, mode, path; symlink targets), NUL-separated,
# then a marker, then the sha256 of every file. Prepended to the stage programs after lib.sh.
#
# The fast path needs GNU find and coreutils: one find lists everything (-printf), and one find
# hashes, names with a newline or backslash as `sha256sum -z` records ("<hex>  ./<path>" NUL), the
# rest as `openssl dgst -r` lines ("<hex> *./<path>" newline). OpenSSL uses the CPU's SHA
# instructions (3x coreutils on this project's machine) but escapes those names.
#
# Elsewhere (BusyBox, BSD) only POSIX find is used: modes are read with `-perm` for each mode the
# artifact has ($@; any other mode shows as `?`), and files are hashed in batches by whichever of
# openssl, sha256sum, shasum or sha256 the server has, lines rewritten to the openssl form, names
# with a newline or backslash one at a time through stdin as "<hex>  ./<path>" NUL records.

# Sets `gnu` when find and coreutils are GNU's, and `hasher` to the first sha256 tool found.
detect_tools() {
  gnu=
  if find . -maxdepth 0 -printf '' > /dev/null 2>&1 && sha256sum -z /dev/null > /dev/null 2>&1; then gnu=1; fi
  hasher=
  for tool in openssl sha256sum shasum sha256; do
    if command -v "$tool" > /dev/null 2>&1; then
      hasher=$tool
      break
    fi
  done
  if [ -z "$hasher" ]; then fail 'the server has none of openssl, sha256sum, shasum or sha256 to verify the upload with'; fi
}

# $@: the modes (octal) the artifact's files and directories have.
list_entries() {
  if [ -n "$gnu" ]; then
    find . -mindepth 1 \( -type f -printf 'f %m %P\0' \) -o \( -type d -printf 'd %m %P\0' \) \
      -o \( -type l -printf 'l 0 %P\0%l\0' \) || fail 'cannot list the release'
    return 0
  fi
  others=
  for mode in "$@"; do
    find . ! -path . -type f -perm "$mode" -exec printf "f $mode %s\\0" {} + || fail 'cannot list the release'
    find . ! -path . -type d -perm "$mode" -exec printf "d $mode %s\\0" {} + || fail 'cannot list the release'
    others="$others ! -perm $mode"
  done
  # shellcheck disable=SC2086 # $others is a list of find operands
  find . ! -path . -type f $others -exec printf 'f ? %s\0' {} + || fail 'cannot list the release'
  # shellcheck disable=SC2086
  find . ! -path . -type d $others -exec printf 'd ? %s\0' {} + || fail 'cannot list the release'
  find . ! -path . -type l -exec sh -c 'for link; do printf "l 0 %s\\0%s\\0" "$link" "$(readlink "$link")"; done' sh {} + ||
    fail 'cannot list the release links'
}

hash_files() {
  nl='
'
  if [ -n "$gnu" ] && [ "$hasher" = openssl ]; then
    find . -type f \( \( -path "*$nl*" -o -path '*\\*' \) -exec sha256sum -z -- {} + \
      -o -exec openssl dgst -sha256 -r {} + \) || fail 'cannot hash the release'
    return 0
  fi
  if [ -n "$gnu" ]; then
    find . -type f -exec sha256sum -z -- {} + || fail 'cannot hash the release'
    return 0
  fi
  # Each hasher's lines ("<hex>  ./p", "<hex> *./p", "<hex> ./p") in the openssl form; the sums
  # are taken whole first, so a failing hasher fails the step.
  # shellcheck disable=SC2016 # the inner programs expand their own arguments
  find . -type f ! -path "*$nl*" ! -path '*\\*' -exec sh -c '
    tool=$1
    shift
    sums=$(
      case $tool in
        openssl) openssl dgst -sha256 -r "$@" ;;
        sha256sum) sha256sum "$@" ;;
        shasum) shasum -a 256 "$@" ;;
        sha256) sha256 -r "$@" ;;
      esac
    ) || exit 1
    printf "%s\n" "$sums" | sed "s/^\([0-9a-f]\{64\}\)[ *]*/\1 */"' sh "$hasher" {} + ||
    fail 'cannot hash the release'
  # shellcheck disable=SC2016
  find . -type f \( -path "*$nl*" -o -path '*\\*' \) -exec sh -c '
    tool=$1
    shift
    for file; do
      case $tool in
        openssl) sum=$(openssl dgst -sha256 -r < "$file") ;;
        sha256sum) sum=$(sha256sum < "$file") ;;
        shasum) sum=$(shasum -a 256 < "$file") ;;
        sha256) sum=$(sha256 -q < "$file") ;;
      esac || exit 1
      printf "%s  %s\\0" "${sum%%[!0-9a-f]*}" "$file"
    done' sh "$hasher" {} + || fail 'cannot hash the release'
}

# $@: the modes the artifact has (for servers without GNU find).
list_and_hash() {
  if [ -z "${hasher:-}" ]; then detect_tools; fi
  list_entries "$@"
  printf '%s\0' "$GD_HASHES"
  hash_files
}
