# shellcheck shell=sh
# Shared by every remote program: prepended to each one (src/deploy/program.ts), never run alone.
# Every program runs as `sh -c '<lib + program>' gated-deploy ARGS...` from the login shell, so the
# values it works on arrive as positional parameters, never pasted into the text.
# Every step that can fail is checked: `set -e` does not stop at a failure inside `a || b`.
set -eu
LC_ALL=C # release ids sort by time in globs
export LC_ALL

# Output markers. The TypeScript parsers read these assignments from this file (markers.ts), so
# the names below are the one definition shared by the programs and their parsers. Each program
# uses some of them.
# shellcheck disable=SC2034
{
GD_BEGIN=GD-BEGIN
GD_END=GD-END
GD_ERROR=GD-ERROR
GD_LOCKED=GD-LOCKED
GD_HELD=GD-HELD
GD_CURRENT=GD-CURRENT
GD_PREVIOUS=GD-PREVIOUS
GD_RELEASE=GD-RELEASE
GD_BASE=GD-BASE
GD_MANIFEST=GD-MANIFEST
GD_HASHES=GD-HASHES
GD_REPLACED=GD-REPLACED
GD_PRUNED=GD-PRUNED
GD_FREE=GD-FREE
GD_ABSENT=GD-ABSENT
GD_READY=GD-READY
GD_UNLOCKED=GD-UNLOCKED
GD_HEALTH=GD-HEALTH
GD_SERVES=GD-SERVES
GD_STAGED=GD-STAGED
GD_DONE=GD-DONE
}

# Exit codes the parsers name (3 = a failed step, with a GD-ERROR line on stderr).
# shellcheck disable=SC2034
{
EXIT_FAILED=3
EXIT_NOT_STAGED=30
EXIT_BEFORE_ACTIVATE=31
EXIT_AFTER_ACTIVATE=32
}

# Anything the login shell printed before this (a greeting in ~/.bashrc) ends at the first frame.
printf '\n%s\n' "$GD_BEGIN"

# Stops the program naming what failed: one line on stderr the parser picks out of any noise.
fail() {
  printf '%s %s\n' "$GD_ERROR" "$*" >&2
  exit "$EXIT_FAILED"
}

# Ends the framed output: what follows (a logout message) is not read.
done_ok() {
  printf '\n%s\n' "$GD_END"
  exit 0
}

# Fails unless directory $1 could be created: its nearest existing ancestor is a writable directory.
check_creatable() {
  dir=$1
  while [ ! -e "$dir" ] && [ ! -L "$dir" ]; do
    case $dir in */*) dir=${dir%/*} ;; *) dir=. ;; esac
    if [ -z "$dir" ]; then dir=/; fi
  done
  if [ ! -d "$dir" ]; then fail "cannot create remote-path $1: $dir is not a directory"; fi
  if [ ! -w "$dir" ] || [ ! -x "$dir" ]; then fail "cannot create remote-path $1: $dir is not writable by $(id -un 2> /dev/null || echo this user) (permission denied)"; fi
}

# Enters the remote path ($1: absolute, or ./relative to the login home), creating it when $2 is
# `create`; with `probe`, a missing path that could be created prints GD-ABSENT and ends the
# program having changed nothing. Never anywhere else: a relative path needs a home directory.
enter() {
  case $1 in
    /*) ;;
    ./*)
      if [ -z "${HOME:-}" ] || [ ! -d "$HOME" ]; then
        fail "the login user's home directory (${HOME:-not set}) does not exist, so the relative remote-path $1 has nowhere to go; use an absolute remote-path"
      fi
      cd "$HOME" || fail "cannot enter the home directory $HOME"
      ;;
    *) fail "internal: remote path $1 is neither absolute nor ./relative" ;;
  esac
  if [ ! -d "$1" ] && [ "$2" = probe ]; then
    if [ -e "$1" ] || [ -L "$1" ]; then fail "remote-path $1 exists and is not a directory"; fi
    check_creatable "$1"
    echo "$GD_ABSENT"
    done_ok
  fi
  if [ ! -d "$1" ] && [ "$2" = create ]; then
    if [ -e "$1" ] || [ -L "$1" ]; then fail "remote-path $1 exists and is not a directory"; fi
    if ! why=$(mkdir -p "$1" 2>&1); then fail "cannot create remote-path $1: $why"; fi
  fi
  if [ ! -d "$1" ]; then fail "remote-path $1 does not exist"; fi
  cd "$1" || fail "cannot enter remote-path $1 (permission denied?)"
}

# Appends one JSON line ($1) to the history.
record() {
  printf '%s\n' "$1" >> .gated-deploy/history.jsonl || fail "cannot write .gated-deploy/history.jsonl"
}

unlock() {
  rm -rf .gated-deploy/lock || fail "cannot remove the lock .gated-deploy/lock"
}

# The release `current` points at, without the `releases/` prefix (empty when there is none).
live_release() {
  live=$(readlink current 2>/dev/null) || live=
  printf '%s' "${live#releases/}"
}

# The release recorded as the one before the live one (empty when there is none).
previous_release() {
  previous=
  if [ -f .gated-deploy/previous ]; then IFS= read -r previous < .gated-deploy/previous || true; fi
  printf '%s' "$previous"
}

# True for a release id: digits, then a dash (and digits and a dash), then hex.
is_release() {
  case $1 in
    *[!0-9a-f-]* | -* | *- | *--* | *-*-*-*) return 1 ;;
    [0-9]*-[0-9a-f]*) return 0 ;;
  esac
  return 1
}

# The complete releases, oldest first: in the order they were stored (.gated-deploy/stored, one
# id a line; ids do not sort by time), after any the file does not list (stored before it was
# kept), in name order.
releases_by_age() {
  stored=
  if [ -f .gated-deploy/stored ]; then
    while IFS= read -r id; do
      if is_release "$id" && [ -d "releases/$id" ]; then
        case " $stored " in *" $id "*) ;; *) stored="$stored $id" ;; esac
      fi
    done < .gated-deploy/stored
  fi
  for dir in releases/*; do
    id=${dir#releases/}
    if is_release "$id" && [ -d "$dir" ]; then
      case " $stored " in *" $id "*) ;; *) printf '%s\n' "$id" ;; esac
    fi
  done
  for id in $stored; do printf '%s\n' "$id"; done
}

# ": no space left on the device (N KiB free)" when the file system holding $1 is (nearly) full:
# GNU tar says only "Wrote only 8704 of 10240 bytes" when the disk fills up.
space_note() {
  avail=$(df -P "$1" 2> /dev/null | awk 'NR == 2 { print $4 }') || return 0
  case $avail in '' | *[!0-9]*) return 0 ;; esac
  if [ "$avail" -lt 1024 ]; then printf ': no space left on the device (%s KiB free)' "$avail"; fi
}

# Extracts the tar on stdin into directory $1, whichever tar the server has. Every flavour must
# unlink an existing file before writing it (never write through a hard link into the release it
# was linked from): GNU tar and BusyBox tar do by default, bsdtar with -U. -B (GNU) reads whole
# records from a pipe; the owner is the login user's (GNU and bsdtar --no-same-owner, BusyBox -o).
extract_into() {
  case $(tar --version 2> /dev/null || true) in
    *GNU*) tar -x -f - -B -p --no-same-owner -C "$1" ;;
    *bsdtar* | *libarchive*) tar -x -f - -U -p --no-same-owner -C "$1" ;;
    *) tar -x -o -f - -C "$1" ;;
  esac
}

# Renames $1 over the symlink $2 in one step, never into the directory $2 points at: `mv -T`
# (GNU, BusyBox) or `mv -h` (BSD).
replace_link() {
  if mv -T "$1" "$2" 2> /dev/null; then return 0; fi
  if [ -e "$1" ] || [ -L "$1" ]; then mv -h "$1" "$2"; else return 1; fi
}

# Copies exactly $1 bytes of stdin to stdout, leaving the rest of stdin unread: in 64 KiB reads
# where dd knows count_bytes (GNU, BusyBox), else one byte at a time.
read_bytes() {
  if [ -z "${dd_counts:-}" ]; then
    if dd iflag=count_bytes,fullblock bs=65536 count=0 < /dev/null > /dev/null 2>&1; then dd_counts=yes; else dd_counts=no; fi
  fi
  if [ "$dd_counts" = yes ]; then
    dd iflag=count_bytes,fullblock bs=65536 count="$1" 2> /dev/null
  else
    dd bs=1 count="$1" 2> /dev/null
  fi
}

# Stores the verified releases/$1.partial as release $1: its manifest from stdin (all of it, or
# exactly $2 bytes when given), then the rename.
commit_release() {
  manifest=.gated-deploy/releases/$1.json
  if [ -n "${2:-}" ]; then
    read_bytes "$2" > "$manifest.tmp" || fail "cannot write the manifest of $1"
    got=$(wc -c < "$manifest.tmp") || fail "cannot read the manifest of $1 back"
    if [ "$((got + 0))" -ne "$2" ]; then fail "the manifest of $1 arrived cut short ($got of $2 bytes)"; fi
  else
    cat > "$manifest.tmp" || fail "cannot write the manifest of $1"
  fi
  if [ -e "releases/$1" ] || [ -L "releases/$1" ]; then fail "release $1 already exists"; fi
  mv "releases/$1.partial" "releases/$1" || fail "cannot rename releases/$1.partial into place"
  mv "$manifest.tmp" "$manifest" || fail "cannot store the manifest of $1"
  printf '%s\n' "$1" >> .gated-deploy/stored || fail 'cannot record the order of the releases'
}

# Deletes all but the newest $1 releases (and their manifests), never the live or the previous
# one ($2 names the live one when known), printing each.
prune() {
  keep=$1
  pruned=
  live=${2:-$(live_release)}
  previous=$(previous_release)
  by_age=$(releases_by_age) || exit "$EXIT_FAILED"
  count=0
  for id in $by_age; do count=$((count + 1)); done
  drop=$((count - keep))
  for id in $by_age; do
    if [ "$drop" -le 0 ]; then break; fi
    drop=$((drop - 1))
    if [ "$id" != "$live" ] && [ "$id" != "$previous" ]; then
      rm -rf "releases/$id" ".gated-deploy/releases/$id.json" || fail "cannot remove the old release $id"
      printf '%s %s\n' "$GD_PRUNED" "$id"
      pruned=1
    fi
  done
  # The order file keeps only releases still there.
  if [ -n "${pruned:-}" ] && [ -f .gated-deploy/stored ]; then
    for id in $by_age; do
      if [ -d "releases/$id" ]; then printf '%s\n' "$id"; fi
    done > .gated-deploy/stored.tmp || fail 'cannot rewrite the order of the releases'
    mv .gated-deploy/stored.tmp .gated-deploy/stored || fail 'cannot rewrite the order of the releases'
  fi
}
