# shellcheck shell=sh
# Builds releases/<id>.partial: run by lock.sh under the lock, in the same exec, once the local
# side has read what the server holds and sent its plan. Defines `stage_release` only.
# stdin: "<bytes of the reuse list> <base release>\n", the NUL-separated files to hard-link from
# the base (unchanged files need not travel), then the tar stream of everything else. Nothing
# else of the base is copied (files a hook made there stay there), and a changed file arrives as
# a new file, never written through a link, so the base stays intact. Then the shared paths are
# linked in, and every entry and every file's sha256 is listed for the local side to check.
# Runs in the remote path. $1 release id  $2 reuse list bytes  $3 base release  then triples:
# shared path, `file` or `dir`, link target.
stage_release() {
  release=$1 reuse_bytes=$2 base=$3
  shift 3
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
  if [ "$reuse_bytes" -gt 0 ]; then
    # `read` took the header line byte by byte; dd reads exactly the list's bytes.
    if ! dd iflag=count_bytes,fullblock bs=65536 count="$reuse_bytes" 2> /dev/null |
      (cd "releases/$base" && xargs -0 -r cp -l --parents -t "../$release.partial" --); then
      fail "cannot link the unchanged files from releases/$base"
    fi
  fi
  tar -x -f - -B -p --no-same-owner -C "$partial" || fail "unpacking the upload into $PWD/$partial failed"
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
  list_and_hash
}
