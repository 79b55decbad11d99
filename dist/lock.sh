# shellcheck shell=sh
# Takes the deploy lock (atomic mkdir) and reports what the server holds: the live, previous and
# base releases, every complete release with its commit, and the base's manifest.
# When the lock is held it prints the holder and the lock's age, changes nothing and stops; the
# caller decides whether it is stale and runs this again with $3 = break.
# With $3 = inspect (a dry run) it changes nothing at all: it reports whether the lock is free
# (GD-FREE, or GD-HELD with its owner) and what the server holds, or GD-ABSENT when the remote
# path does not exist yet but could be created.
# With $4 (take or break), once the lock is taken and the server described, it prints GD-READY
# and stages release $4 in the same exec (stage.sh) from the plan the local side then sends on
# stdin: one channel per host for the whole upload, so `MaxSessions 1` suffices. An empty stdin
# instead releases the lock (GD-UNLOCKED) and changes nothing else.
# On a server with GNU tar (which stops reading at the archive's end), it then prints GD-STAGED
# and serves commands on stdin (serve.sh): the same exec stores, switches and unlocks. It says so
# with a GD-SERVES line ahead of GD-READY, so the local side keeps stdin open after the tar.
# $1 remote path   $2 owner (one JSON line)   $3 `take`, `break` (a stale lock first) or `inspect`
# $4 release to stage (empty: none)  $5 its commit sha  $6 before-activate  $7 after-activate
# then stage.sh's triples for the shared paths
remote_path=$1 owner=$2 mode=$3 release=${4:-} sha=${5:-} before=${6:-} after=${7:-}
if [ "$#" -ge 7 ]; then shift 7; else shift "$#"; fi

# Prints the held lock's age in seconds and its owner.
describe_lock() {
  # Its age by the server's clock, from the lock directory's time (GNU and BusyBox stat); the
  # local side falls back to the owner's start time.
  since=$(stat -c %Y .gated-deploy/lock 2> /dev/null) || since=
  case $since in '' | *[!0-9]*) age=- ;; *) age=$(($(date +%s) - since)) ;; esac
  printf '%s %s\n' "$GD_HELD" "$age"
  cat .gated-deploy/lock/owner.json 2> /dev/null || printf '{}'
  echo # the owner stays on its own line even when its file does not end in one
}

# What the server holds: live, previous and every complete release (oldest first), their
# commits, and the manifest of the newest (the base the next release reuses files from).
inspect() {
  printf '%s %s\n' "$GD_CURRENT" "$(live_release)"
  printf '%s %s\n' "$GD_PREVIOUS" "$(previous_release)"
  base=
  by_age=$(releases_by_age) || exit "$EXIT_FAILED"
  for id in $by_age; do
    if [ -f ".gated-deploy/releases/$id.json" ]; then
      printf '%s %s\n' "$GD_RELEASE" "$id"
      base=$id
    fi
  done
  printf '%s %s\n' "$GD_BASE" "$base"
  # The commit each release holds: `<manifest file>:"sha":"<hex>"` lines.
  if [ -n "$base" ]; then grep -o -m 1 '"sha":"[0-9a-f]*"' .gated-deploy/releases/*.json /dev/null || true; fi
  echo "$GD_MANIFEST"
  if [ -n "$base" ]; then
    cat ".gated-deploy/releases/$base.json" || fail "cannot read the manifest of $base"
    echo # the manifest has no newline of its own; the next marker needs a line to itself
  fi
}

if [ "$mode" = inspect ]; then
  enter "$remote_path" probe
  if [ -d .gated-deploy/lock ]; then describe_lock; else echo "$GD_FREE"; fi
  inspect
  done_ok
fi

enter "$remote_path" create
for dir in releases shared .gated-deploy/releases; do
  if [ ! -d "$dir" ]; then
    if ! why=$(mkdir -p "$dir" 2>&1); then fail "cannot create $remote_path/$dir: $why"; fi
  fi
done
if [ "$mode" = break ]; then unlock; fi
if ! mkdir .gated-deploy/lock 2> /dev/null; then
  if [ ! -d .gated-deploy/lock ]; then fail "cannot create the lock in $remote_path/.gated-deploy (permission denied?)"; fi
  describe_lock
  done_ok
fi
printf '%s\n' "$owner" > .gated-deploy/lock/owner.json || fail "cannot write the lock's owner"
echo "$GD_LOCKED"

# A partial release left by a run that died is never activated: remove it under the lock.
for partial in releases/*.partial; do
  if [ -e "$partial" ] || [ -L "$partial" ]; then rm -rf "$partial" || fail "cannot remove $partial"; fi
done
# Ahead of the inspection, whose manifest runs to GD-READY.
serves=
if [ -n "$release" ]; then
  case $(tar --version 2> /dev/null || true) in
    *GNU*)
      serves=1
      echo "$GD_SERVES"
      ;;
  esac
fi
root=$PWD
inspect
if [ -n "$release" ]; then
  echo "$GD_READY"
  if ! IFS=' ' read -r reuse_bytes base modes; then
    unlock
    echo "$GD_UNLOCKED"
    done_ok
  fi
  stage_release "$release" "$reuse_bytes" "$base" "$modes" "$@"
  if [ -n "$serves" ]; then
    cd "$root" || fail "cannot enter $root"
    printf '\n%s\n' "$GD_STAGED"
    serve_commands "$release" "$sha" "$before" "$after" "$owner"
  fi
fi
done_ok
