# shellcheck shell=sh
# Switches `current` to a staged release atomically (a new link renamed over the old) between the
# two hooks. When after-activate fails, `current` goes back to where it was. Prints the release
# it replaced. Saves round trips when asked: first stores the release this run staged (its
# manifest on stdin), and after a good switch prunes and unlocks (when no other host may still
# need switching back).
# $1 remote path  $2 release  $3 commit sha  $4 before-activate  $5 after-activate
# $6 history line for storing the release (empty: it is stored already)  $7 history line for the
# switch  $8 history line for switching back  $9 releases to keep, then unlock (empty: neither)
remote_path=$1 release=$2 sha=$3 before=$4 after=$5 stored=$6 switched=$7 back=$8 keep=$9

# Runs a user hook in the release directory (bash when there is one), its output on stderr.
run_hook() {
  echo "$1 on $(hostname 2> /dev/null || uname -n):" >&2
  if command -v bash > /dev/null 2>&1; then runner='bash'; else runner='sh'; fi
  (cd "$RELEASE_PATH" && "$runner" -e -c "$2") 1>&2
}

# Points `current` at $1 in one rename: it never dangles and is never missing.
switch_to() {
  # Left only by a run that died between these lines; the test spares a program start (~5 ms).
  if [ -e current.gd-new ] || [ -L current.gd-new ]; then rm -f current.gd-new || fail 'cannot remove current.gd-new'; fi
  ln -s "$1" current.gd-new || fail 'cannot create current.gd-new'
  replace_link current.gd-new current || fail "cannot switch current to $1 (the server's mv needs -T or -h)"
}

is_release "$release" || fail "bad release id: $release"
enter "$remote_path" existing
if [ -n "$stored" ]; then
  commit_release "$release"
  record "$stored"
fi
if [ ! -d "releases/$release" ]; then
  printf '%s release %s is not staged here\n' "$GD_ERROR" "$release" >&2
  exit "$EXIT_NOT_STAGED"
fi
previous=$(live_release)
printf '%s %s\n' "$GD_REPLACED" "$previous"
RELEASE=$release SHA=$sha RELEASE_PATH=$PWD/releases/$release PREVIOUS_RELEASE=$previous
export RELEASE SHA RELEASE_PATH PREVIOUS_RELEASE
if [ -n "$before" ] && ! run_hook before-activate "$before"; then exit "$EXIT_BEFORE_ACTIVATE"; fi
recorded=$(previous_release)
switch_to "releases/$release"
if [ -n "$previous" ] && [ "$previous" != "$release" ]; then
  printf '%s\n' "$previous" > .gated-deploy/previous || fail 'cannot record the previous release'
fi
record "$switched"
if [ -n "$after" ] && ! run_hook after-activate "$after"; then
  if [ -n "$previous" ]; then switch_to "releases/$previous"; else rm -f current || fail 'cannot remove current'; fi
  # The release before the live one is what it was: pruning and /rollback rely on it.
  if [ -n "$recorded" ]; then
    printf '%s\n' "$recorded" > .gated-deploy/previous || fail 'cannot record the previous release'
  else
    rm -f .gated-deploy/previous || fail 'cannot reset the previous release'
  fi
  record "$back"
  exit "$EXIT_AFTER_ACTIVATE"
fi
if [ -n "$keep" ]; then
  prune "$keep" "$release"
  unlock
fi
done_ok
