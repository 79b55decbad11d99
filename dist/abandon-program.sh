# shellcheck shell=sh
# The abandon program (abandon.sh) on its own exec.
# $1 remote path  $2 release  $3 `remove` or `keep`  $4 history line
remote_path=$1 release=$2 mode=$3 line=$4

is_release "$release" || fail "bad release id: $release"
enter "$remote_path" existing
abandon_release "$release" "$mode" "$line"
done_ok
