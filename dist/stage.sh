# shellcheck shell=sh
# Builds releases/<id>.partial: run by lock.sh under the lock, in the same exec, once the local
# side has read what the server holds and sent its plan. Defines `stage_release` only.
# stdin: "<bytes of the reuse list> <base release>\n", the NUL-separated files to hard-link from
# the base (unchanged files need not travel), "<bytes of the early list> <blocks>\n" and that
# list (for hash_early: big files, hashed during the upload where the server has GNU tar and
# find), then the tar stream of everything else. Nothing
# else of the base is copied (files a hook made there stay there), and a changed file arrives as
# a new file, never written through a link, so the base stays intact. Then the shared paths are
# linked in, and every entry and every file's sha256 is listed for the local side to check.
# The header line ends with the modes the artifact has (octal), for listing on servers without
# GNU find; `-` stands for no base release.
# Runs in the remote path. $1 release id  $2 reuse list bytes  $3 base release  $4 modes  then
# triples: shared path, `file` or `dir`, link target.
stage_release() {
  release=$1 reuse_bytes=$2 base=$3 modes=$4
  shift 4
  if [ "$base" = - ]; then base=; fi
  case $modes in *[!0-7\ ]*) fail "bad modes: $modes" ;; esac
  case $reuse_bytes in '' | *[!0-9]*) fail "bad reuse list length: $reuse_bytes" ;; esac
  is_release "$release" || fail "bad release id: $release"
  if [ -n "$base" ] && ! is_release "$base"; then fail "bad base release: $base"; fi
  if [ "$reuse_bytes" -gt 0 ] && [ -z "$base" ]; then fail 'files to reuse but no base release'; fi
  partial=releases/$release.partial
  if [ -e "releases/$release" ] || [ -L "releases/$release" ]; then
    fail "release $release already exists in $PWD/releases; it is left alone (run again for a new release id)"
  fi
  if [ -e "$partial" ] || [ -L "$partial" ]; then rm -rf "$partial" || fail "cannot remove an old $partial"; fi
  if ! why=$(mkdir "$partial" 2>&1); then fail "cannot create $PWD/$partial: $why"; fi
  detect_tools
  # `read` took the header line byte by byte; read_bytes (lib.sh) takes exactly a list's bytes.
  if [ "$reuse_bytes" -gt 0 ]; then
    # Each file is hard-linked from the base: in one cp where cp has --parents (GNU), else one ln
    # a file. GNU coreutils (found by detect_tools) have both; elsewhere each is probed.
    if [ -n "$gnu" ] || cp --parents --version > /dev/null 2>&1; then
      read_bytes "$reuse_bytes" | (cd "releases/$base" && xargs -0 cp -l --parents -t "../$release.partial" --) ||
        fail "cannot link the unchanged files from releases/$base"
    else
      # shellcheck disable=SC2016 # the inner program expands its own arguments
      read_bytes "$reuse_bytes" | (cd "releases/$base" && xargs -0 sh -c '
        into=$1
        shift
        for file; do
          case $file in */*) dir=${file%/*} ;; *) dir=. ;; esac
          if [ ! -d "$into/$dir" ]; then mkdir -p "$into/$dir" || exit 1; fi
          ln "./$file" "$into/$file" || exit 1
        done' sh "../$release.partial") ||
        fail "cannot link the unchanged files from releases/$base"
    fi
  fi
  IFS=' ' read -r early_bytes blocks || fail 'no list of files to hash during the upload'
  case $early_bytes$blocks in '' | *[!0-9]*) fail "bad list of files to hash during the upload: $early_bytes $blocks" ;; esac
  early_sums=''
  gnu_tar=
  if [ "$early_bytes" -gt 0 ] && [ -n "$gnu" ]; then
    case $(tar --version 2> /dev/null || true) in *GNU*) gnu_tar=1 ;; esac
  fi
  if [ -n "$gnu_tar" ]; then
    # extract_into's GNU tar, naming each member as it begins. The files go in the lock
    # directory: gone with the lock, whatever happens.
    early_sums=$PWD/.gated-deploy/lock/sums
    read_bytes "$early_bytes" > .gated-deploy/lock/early || fail 'cannot store the list of files to hash'
    {
      if tar -x -v -f - -B -p --no-same-owner -C "$partial"; then untar=0; else untar=$?; fi
      echo "$untar" > .gated-deploy/lock/untar
    } | (cd "$partial" && hash_early ../../.gated-deploy/lock/early) > "$early_sums" ||
      fail "cannot hash the upload in $PWD/$partial"
    IFS= read -r untar < .gated-deploy/lock/untar || untar=
    if [ "$untar" != 0 ]; then fail "unpacking the upload into $PWD/$partial failed$(space_note "$partial")"; fi
  else
    if [ "$early_bytes" -gt 0 ]; then read_bytes "$early_bytes" > /dev/null || fail 'cannot read the list of files to hash'; fi
    extract_into "$partial" || fail "unpacking the upload into $PWD/$partial failed$(space_note "$partial")"
  fi
  while [ "$#" -ge 3 ]; do
    path=$1 kind=$2 target=$3
    shift 3
    store=shared/$path
    if [ ! -e "$store" ] && [ ! -L "$store" ]; then
      mkdir -p "${store%/*}" || fail "cannot create ${store%/*}"
      if [ "$kind" = file ]; then
        : > "$store" || fail "cannot create $store"
      else
        mkdir -p "$store" || fail "cannot create $store"
      fi
    fi
    rm -rf "${partial:?}/$path" || fail "cannot replace $partial/$path"
    case $path in */*) parent=${path%/*} ;; *) parent=. ;; esac
    mkdir -p "$partial/$parent" || fail "cannot create $partial/$parent"
    ln -s "$target" "$partial/$path" || fail "cannot link $partial/$path to the shared $path"
  done
  cd "$partial" || fail "cannot enter $partial"
  # shellcheck disable=SC2086 # one word a mode
  if [ -n "$early_sums" ]; then list_and_hash --early "$blocks" "$early_sums" $modes; else list_and_hash $modes; fi
}
