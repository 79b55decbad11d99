# shellcheck shell=sh
# After a failure: removes this run's partial release $1 (and, with $2 = remove, its stored but
# never activated release; never the live one), records the failure (history line $3), and
# releases the lock. Runs in the remote path. Defines `abandon_release`, run by the abandon
# program (main.sh) and by a lock exec that stays open (serve.sh).
abandon_release() {
  rm -rf "releases/$1.partial" || fail "cannot remove releases/$1.partial"
  if [ "$2" = remove ] && [ "$(live_release)" != "$1" ]; then
    rm -rf "releases/$1" ".gated-deploy/releases/$1.json" || fail "cannot remove releases/$1"
  fi
  record "$3"
  unlock
}
