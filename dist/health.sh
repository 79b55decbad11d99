# shellcheck shell=sh
# Checks a switched release once (the runner retries): runs the health-check command in the
# release directory, or fetches a URL from the server itself (curl, else wget), and prints what it
# saw: GD-HEALTH and the command's exit status, or the HTTP status code (000: no answer).
# The command's output goes to stderr, whose last lines name a failure.
# $1 remote path  $2 release  $3 `command` or `url`  $4 the command, or the URL  $5 seconds per try
remote_path=$1 release=$2 what=$3 check=$4 seconds=$5

is_release "$release" || fail "bad release id: $release"
enter "$remote_path" existing
[ -d "releases/$release" ] || fail "release $release is not staged here"
case $what in
  command)
    if command -v bash > /dev/null 2>&1; then runner='bash'; else runner='sh'; fi
    RELEASE=$release RELEASE_PATH=$PWD/releases/$release
    export RELEASE RELEASE_PATH
    status=0
    (cd "$RELEASE_PATH" && "$runner" -e -c "$check") 1>&2 || status=$?
    ;;
  url)
    if command -v curl > /dev/null 2>&1; then
      status=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$seconds" "$check" 2>&1) || true
    elif command -v wget > /dev/null 2>&1; then
      # -S prints the response headers on stderr, an error status too (wget then exits 1).
      # Bounded by `timeout` when there is one: BusyBox 1.35's wget crashes on its own -T.
      if command -v timeout > /dev/null 2>&1; then bound="timeout $seconds"; else bound=; fi
      # shellcheck disable=SC2086 # $bound is empty or two words
      status=$($bound wget -S -O /dev/null "$check" 2>&1 | sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' | tail -n 1) || true
    else
      fail 'neither curl nor wget is installed on this server to fetch health-check-url; install one, or use health-check-command'
    fi
    case $status in [0-9][0-9][0-9]) ;; *) status=000 ;; esac
    ;;
  *) fail "internal: unknown health check $what" ;;
esac
printf '%s %s\n' "$GD_HEALTH" "$status"
done_ok
