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

# With GNU tools and $1 = N (512-byte blocks), files larger than that whose names have no newline
# or backslash are left out: hash_early hashed them while the upload was unpacked.
hash_files() {
  nl='
'
  if [ -n "$gnu" ] && [ -n "${1:-}" ]; then
    set -- ! -size "+$1"
  else
    set -- -true
  fi
  if [ -n "$gnu" ] && [ "$hasher" = openssl ]; then
    find . -type f \( \( -path "*$nl*" -o -path '*\\*' \) -exec sha256sum -z -- {} + \
      -o "$@" -exec openssl dgst -sha256 -r {} + \) || fail 'cannot hash the release'
    return 0
  fi
  if [ -n "$gnu" ]; then
    find . -type f \( -path "*$nl*" -o -path '*\\*' -o "$@" \) -exec sha256sum -z -- {} + ||
      fail 'cannot hash the release'
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

# The sha256 of one file ($1, a path without newline or backslash) as a "<hex> *./<path>" line.
hash_one() {
  case $hasher in
    openssl) sum=$(openssl dgst -sha256 -r < "$1") ;;
    sha256sum) sum=$(sha256sum < "$1") ;;
    shasum) sum=$(shasum -a 256 < "$1") ;;
    sha256) sum=$(sha256 -q < "$1") ;;
  esac || fail "cannot hash $1"
  sum=${sum%%[!0-9a-f]*}
  if [ "${#sum}" -ne 64 ]; then fail "$hasher printed no sha256 for $1"; fi
  printf '%s *./%s\n' "$sum" "$1"
}

# Hashes big files while GNU tar (-v) unpacks the upload, each as soon as it is complete, so
# verification ends with the stream instead of reading the release again after it.
# stdin: tar's verbose output, one line a member as it begins (GNU tar escapes a newline in a
# name, and writes each line at once). $1: "<n> <path>" lines, n ascending: the file is complete
# once n members have begun (0: before the upload, a file linked from the base); whatever is left
# when the output ends is complete too. Runs in the release directory, with GNU tools (so openssl
# or sha256sum is the hasher).
hash_early() {
  exec 4< "$1"
  begun=0 ended=
  if IFS=' ' read -r n file <&4; then more=1; else more=; fi
  # The files linked from the base, in one hashing process (one each costs more than it gains).
  set --
  while [ -n "$more" ] && [ "$n" -le 0 ]; do
    if [ -e "$file" ]; then set -- "$@" "./$file"; fi
    if IFS=' ' read -r n file <&4; then more=1; else more=; fi
  done
  if [ "$#" -gt 0 ]; then
    sums=$(
      case $hasher in
        openssl) openssl dgst -sha256 -r "$@" ;;
        *) sha256sum -- "$@" ;;
      esac
    ) || fail 'cannot hash the files linked from the base'
    printf '%s\n' "$sums" | sed "s/^\([0-9a-f]\{64\}\)[ *]*/\1 */"
  fi
  while :; do
    while [ -n "$more" ] && { [ -n "$ended" ] || [ "$n" -le "$begun" ]; }; do
      if [ -e "$file" ]; then hash_one "$file"; fi
      if IFS=' ' read -r n file <&4; then more=1; else more=; fi
    done
    if [ -n "$ended" ]; then break; fi
    if IFS= read -r _; then begun=$((begun + 1)); else ended=1; fi
  done
  exec 4<&-
}

# $@: the modes the artifact has (for servers without GNU find). After `--early BLOCKS SUMS`
# (GNU tools), the files over BLOCKS that hash_early hashed are left out, and its sums (the file
# SUMS) printed instead.
list_and_hash() {
  early_blocks='' early_sums=''
  if [ "${1:-}" = --early ]; then
    early_blocks=$2 early_sums=$3
    shift 3
  fi
  if [ -z "${hasher:-}" ]; then detect_tools; fi
  list_entries "$@"
  printf '%s\0' "$GD_HASHES"
  hash_files "$early_blocks"
  if [ -n "$early_sums" ]; then cat "$early_sums" || fail 'cannot read the sums taken during the upload'; fi
}
