# shellcheck shell=sh
# Ends a run that activates nothing here: stores the release this run staged when named, prunes
# old releases when asked, and releases the lock.
# $1 remote path  $2 release to store (its manifest on stdin; empty: none)  $3 its history line
# $4 releases to keep (empty: no pruning)
remote_path=$1 release=$2 stored=$3 keep=$4

if [ -n "$release" ] && ! is_release "$release"; then fail "bad release id: $release"; fi
enter "$remote_path" existing
if [ -n "$release" ]; then
  commit_release "$release"
  record "$stored"
fi
if [ -n "$keep" ]; then prune "$keep"; fi
unlock
done_ok
