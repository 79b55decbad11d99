# shellcheck shell=sh
# After a failure: removes this run's partial release (and, with $3 = remove, its stored but never
# activated release; never the live one), records the failure, and releases the lock.
# $1 remote path  $2 release  $3 `remove` or `keep`  $4 history line
remote_path=$1 release=$2 mode=$3 line=$4

is_release "$release" || fail "bad release id: $release"
enter "$remote_path" existing
rm -rf "releases/$release.partial" || fail "cannot remove releases/$release.partial"
if [ "$mode" = remove ] && [ "$(live_release)" != "$release" ]; then
  rm -rf "releases/$release" ".gated-deploy/releases/$release.json" || fail "cannot remove releases/$release"
fi
record "$line"
unlock
done_ok
