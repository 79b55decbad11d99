# shellcheck shell=sh
# What a lock exec does after staging on a server whose tar stops reading at the archive's end
# (GNU tar): it stays open and takes commands on stdin, so that storing, switching, pruning and
# unlocking need no exec of their own, and a deploy to one host is one exec. One line a command:
#   store BYTES             then its history line and BYTES of manifest: stores the staged release
#   activate RELEASE HOOKS KEEP
#                           then the history lines for the switch and for switching back:
#                           switches `current` (activate.sh) with the hooks when HOOKS is `hooks`;
#                           with KEEP (a number; `-` for none) then prunes, unlocks and ends
#   finish KEEP             prunes (unless `-`), unlocks and ends
#   abandon MODE            then a history line: cleans up after a failure (abandon.sh) and ends
#   detach                  ends with the lock held: the local side goes on with execs of its own
# A command that does not end the program ends with a GD-DONE line. The end of stdin (the local
# side is gone) removes the partial release (if it is still there), releases the lock if it is
# still this run's, and ends. A failed step ends the
# program as in the separate programs, with the lock held for the local side to clean up.
# Defines `serve_commands`: $1 the staged release  $2 commit sha  $3 before-activate
# $4 after-activate  $5 the lock's owner line as this run wrote it
serve_commands() {
  s_release=$1 s_sha=$2 s_before=$3 s_after=$4 s_owner=$5
  while :; do
    if ! IFS=' ' read -r s_command s_1 s_2 s_3; then
      rm -rf "releases/$s_release.partial" || fail "cannot remove releases/$s_release.partial"
      s_holder=
      if [ -f .gated-deploy/lock/owner.json ]; then IFS= read -r s_holder < .gated-deploy/lock/owner.json || true; fi
      if [ "$s_holder" = "$s_owner" ]; then
        unlock
        echo "$GD_UNLOCKED"
      fi
      done_ok
    fi
    case $s_command in
      store)
        case $s_1 in '' | *[!0-9]*) fail "bad manifest length: $s_1" ;; esac
        IFS= read -r s_line || fail 'store: no history line'
        commit_release "$s_release" "$s_1"
        record "$s_line"
        ;;
      activate)
        is_release "$s_1" || fail "bad release id: $s_1"
        case $s_3 in - | [1-9] | [1-9]*[0-9]) ;; *) fail "bad number of releases to keep: $s_3" ;; esac
        IFS= read -r s_switched || fail 'activate: no history line'
        IFS= read -r s_back || fail 'activate: no history line for switching back'
        if [ "$s_2" = hooks ]; then
          activate_release "$s_1" "$s_sha" "$s_before" "$s_after" "$s_switched" "$s_back"
        else
          activate_release "$s_1" "$s_sha" '' '' "$s_switched" "$s_back"
        fi
        if [ "$s_3" != - ]; then
          prune "$s_3" "$s_1"
          unlock
          done_ok
        fi
        ;;
      finish)
        case $s_1 in - | [1-9] | [1-9]*[0-9]) ;; *) fail "bad number of releases to keep: $s_1" ;; esac
        if [ "$s_1" != - ]; then prune "$s_1"; fi
        unlock
        done_ok
        ;;
      abandon)
        IFS= read -r s_line || fail 'abandon: no history line'
        abandon_release "$s_release" "$s_1" "$s_line"
        done_ok
        ;;
      detach) done_ok ;;
      *) fail "unknown command: $s_command" ;;
    esac
    printf '\n%s\n' "$GD_DONE"
  done
}
