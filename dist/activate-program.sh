# shellcheck shell=sh
# The activate program: switches `current` to a staged release (activate.sh). Saves round trips
# when asked: first stores the release this run staged (its manifest on stdin), and after a good
# switch prunes and unlocks (when no other host may still need switching back).
# $1 remote path  $2 release  $3 commit sha  $4 before-activate  $5 after-activate
# $6 history line for storing the release (empty: it is stored already)  $7 history line for the
# switch  $8 history line for switching back  $9 releases to keep, then unlock (empty: neither)
remote_path=$1 release=$2 sha=$3 before=$4 after=$5 stored=$6 switched=$7 back=$8 keep=$9

is_release "$release" || fail "bad release id: $release"
enter "$remote_path" existing
if [ -n "$stored" ]; then
  commit_release "$release"
  record "$stored"
fi
activate_release "$release" "$sha" "$before" "$after" "$switched" "$back"
if [ -n "$keep" ]; then
  prune "$keep" "$release"
  unlock
fi
done_ok
