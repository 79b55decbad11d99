# shellcheck shell=sh
# Extracts a tar of files that had to be sent after all (their copies linked from the base
# differed from its manifest) into the partial release, then lists and hashes it again. GNU tar
# unlinks a file before writing it, so the base release is not touched.
# $1 remote path   $2 release id   then the modes the artifact has   stdin: the tar stream
remote_path=$1 release=$2
shift 2

is_release "$release" || fail "bad release id: $release"
enter "$remote_path" existing
partial=releases/$release.partial
[ -d "$partial" ] || fail "$remote_path/$partial is gone"
extract_into "$partial" || fail "unpacking the changed files into $remote_path/$partial failed$(space_note "$partial")"
cd "$partial" || fail "cannot enter $partial"
list_and_hash "$@"
done_ok
