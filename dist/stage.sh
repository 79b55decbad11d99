# shellcheck shell=sh
# Builds releases/<id>.partial in one exec. It may be started before the plan is known: nothing
# happens until the header arrives on stdin, and an empty stdin changes nothing.
# stdin: "<bytes of the reuse list> <base release>\n", the NUL-separated files to hard-link from
# the base (unchanged files need not travel), then the tar stream of everything else. Nothing
# else of the base is copied (files a hook made there stay there), and a changed file arrives as
# a new file, never written through a link, so the base stays intact. Then the shared paths are
# linked in, and every entry and every file's sha256 is listed for the local side to check.
# $1 remote path   $2 release id   then triples: shared path, `file` or `dir`, link target
remote_path=$1 release=$2
shift 2

IFS=' ' read -r reuse_bytes base || done_ok
case $base in *[!0-9a-f-]*) fail "bad base release: $base" ;; esac
case $reuse_bytes in '' | *[!0-9]*) fail "bad reuse list length: $reuse_bytes" ;; esac
if [ "$reuse_bytes" -gt 0 ] && [ -z "$base" ]; then fail 'files to reuse but no base release'; fi
enter "$remote_path" existing
partial=releases/$release.partial
if [ -e "releases/$release" ] || [ -L "releases/$release" ]; then
  fail "release $release already exists in $remote_path/releases; it is left alone (run again for a new release id)"
fi
if [ -e "$partial" ] || [ -L "$partial" ]; then rm -rf "$partial" || fail "cannot remove an old $partial"; fi
if ! why=$(mkdir "$partial" 2>&1); then fail "cannot create $remote_path/$partial: $why"; fi
if [ "$reuse_bytes" -gt 0 ]; then
  # `read` took the header line byte by byte; dd reads exactly the list's bytes.
  if ! dd iflag=count_bytes,fullblock bs=65536 count="$reuse_bytes" 2>/dev/null |
    (cd "releases/$base" && xargs -0 -r cp -l --parents -t "../$release.partial" --); then
    fail "cannot link the unchanged files from releases/$base"
  fi
fi
tar -x -f - -B -p --no-same-owner -C "$partial" || fail "unpacking the upload into $remote_path/$partial failed"
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
done_ok
