# shellcheck shell=sh
# Switches `current` to a stored release atomically (a new link renamed over the old) between the
# two hooks. When after-activate fails, `current` goes back to where it was. Defines
# `activate_release`, run by the activate program (main.sh) and by a lock exec that stays open
# (serve.sh).

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

# Switches to release $1 of commit $2 with before-activate $3 and after-activate $4 (empty: none),
# recording history line $5, or $6 when after-activate failed and `current` went back. Prints the
# release it replaced. Runs in the remote path. Its variables start with `a_`: a lock exec that
# serves commands keeps its own.
activate_release() {
  a_release=$1 a_sha=$2 a_before=$3 a_after=$4 a_switched=$5 a_back=$6
  if [ ! -d "releases/$a_release" ]; then
    printf '%s release %s is not staged here\n' "$GD_ERROR" "$a_release" >&2
    exit "$EXIT_NOT_STAGED"
  fi
  a_previous=$(live_release)
  printf '%s %s\n' "$GD_REPLACED" "$a_previous"
  RELEASE=$a_release SHA=$a_sha RELEASE_PATH=$PWD/releases/$a_release PREVIOUS_RELEASE=$a_previous
  export RELEASE SHA RELEASE_PATH PREVIOUS_RELEASE
  if [ -n "$a_before" ] && ! run_hook before-activate "$a_before"; then exit "$EXIT_BEFORE_ACTIVATE"; fi
  a_recorded=$(previous_release)
  switch_to "releases/$a_release"
  if [ -n "$a_previous" ] && [ "$a_previous" != "$a_release" ]; then
    printf '%s\n' "$a_previous" > .gated-deploy/previous || fail 'cannot record the previous release'
  fi
  record "$a_switched"
  if [ -n "$a_after" ] && ! run_hook after-activate "$a_after"; then
    if [ -n "$a_previous" ]; then switch_to "releases/$a_previous"; else rm -f current || fail 'cannot remove current'; fi
    # The release before the live one is what it was: pruning and /rollback rely on it.
    if [ -n "$a_recorded" ]; then
      printf '%s\n' "$a_recorded" > .gated-deploy/previous || fail 'cannot record the previous release'
    else
      rm -f .gated-deploy/previous || fail 'cannot reset the previous release'
    fi
    record "$a_back"
    exit "$EXIT_AFTER_ACTIVATE"
  fi
}
