#!/bin/sh
# test_rootless.sh — run the sandbox suites as an ordinary user, so that the sandbox runs in its
# rootless mode (a user namespace per run), next to the root-mode run that `make test` does as
# root. For root only (make test calls it after the main run; so does .ci/run through make).
#
# The user must be able to read the binaries and the data, wherever the checkout is (often
# under /root): the test binary, the server binary, data/ and tests/data are copied to a fresh
# directory under /tmp, and the suites run there as that user, with no supplementary groups
# and no capabilities (setpriv).
#
# Where the host has v1 memory and pids cgroups, suite `sandbox_limits` then runs once more in
# cgroups delegated to that user (made here, chowned to it, removed after): the rootless
# sandbox then bounds runs with cgroups, as an operator who delegates them gets, and the suite
# is told to insist on it (TOOLGYM_TEST_CGROUPS=1).
#
# usage: sh scripts/test_rootless.sh [BUILD_DIR]      (default build; make test passes its own)
# The suites run with the sandbox in its default run mode (warm where the host allows), then
# ROOTLESS_COLD_SUITES again in cold mode (TOOLGYM_TEST_RUN_MODE=cold).
#
# Settings (environment): ROOTLESS_USER=nobody (a user name or a numeric uid),
#   ROOTLESS_SUITES="sandbox sandbox_limits sandbox_e2e sandbox_modes sandbox_warm userns
#   code_cache", ROOTLESS_COLD_SUITES="sandbox sandbox_limits sandbox_e2e code_cache".
# Exits with the test runner's status; its last line is the runner's "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
WHO=${ROOTLESS_USER:-nobody}
SUITES=${ROOTLESS_SUITES:-sandbox sandbox_limits sandbox_e2e sandbox_modes sandbox_warm userns code_cache}
COLD_SUITES=${ROOTLESS_COLD_SUITES:-sandbox sandbox_limits sandbox_e2e code_cache}

if [ "$(id -u)" != 0 ]; then
    echo "test_rootless.sh: run as root (it runs the suites as $WHO); as $WHO, make test already runs rootless" >&2
    exit 2
fi
for f in "$BUILD/toolgym" "$BUILD/toolgym-tests"; do
    [ -x "$f" ] || { echo "test_rootless.sh: $f is missing (make test builds it)" >&2; exit 2; }
done
command -v setpriv >/dev/null 2>&1 || { echo "test_rootless.sh: setpriv (util-linux) is missing" >&2; exit 2; }
case $WHO in
    *[!0-9]*) uid=$(id -u "$WHO") && gid=$(id -g "$WHO") || exit 2 ;;
    *) uid=$WHO gid=$WHO ;;
esac
[ "$uid" != 0 ] || { echo "test_rootless.sh: ROOTLESS_USER must not be root" >&2; exit 2; }

dir=$(mktemp -d /tmp/toolgym-rootless.XXXXXX) || exit 2
trap 'rm -rf "$dir"' EXIT INT TERM
mkdir -p "$dir/build" "$dir/tests" &&
    cp "$BUILD/toolgym" "$BUILD/toolgym-tests" "$dir/build/" &&
    cp -R data "$dir/data" && cp -R tests/data "$dir/tests/data" &&
    chmod -R a+rX "$dir" || exit 2

echo "rootless: suites $SUITES as uid $uid ($WHO) in $dir"
cd "$dir" || exit 2
# shellcheck disable=SC2086
setpriv --reuid="$uid" --regid="$gid" --clear-groups \
    env HOME="$dir" TOOLGYM_BIN=build/toolgym build/toolgym-tests $SUITES
status=$?
if [ -n "$COLD_SUITES" ]; then
    echo "rootless: suites $COLD_SUITES in cold run mode"
    # shellcheck disable=SC2086
    setpriv --reuid="$uid" --regid="$gid" --clear-groups \
        env HOME="$dir" TOOLGYM_BIN=build/toolgym TOOLGYM_TEST_RUN_MODE=cold \
        build/toolgym-tests $COLD_SUITES || status=1
fi

# The cgroups this process is in, per v1 hierarchy ("" without one).
own() { awk -F: -v c="$1" '$2 == c { print $3 }' /proc/self/cgroup; }
if [ -f /sys/fs/cgroup/memory/tasks ] && [ -f /sys/fs/cgroup/pids/tasks ]; then
    mem=/sys/fs/cgroup/memory$(own memory)/toolgym-rootless-$$
    pids=/sys/fs/cgroup/pids$(own pids)/toolgym-rootless-$$
    if mkdir "$mem" "$pids" && chown -R "$uid" "$mem" "$pids"; then
        echo "rootless: suite sandbox_limits as uid $uid in cgroups delegated to it ($mem, $pids)"
        # shellcheck disable=SC2016
        sh -c 'echo $$ >"$1/tasks" && echo $$ >"$2/tasks" && shift 2 && exec "$@"' sh \
            "$mem" "$pids" setpriv --reuid="$uid" --regid="$gid" --clear-groups \
            env HOME="$dir" TOOLGYM_BIN=build/toolgym TOOLGYM_TEST_CGROUPS=1 \
            build/toolgym-tests sandbox_limits || status=1
    else
        echo "rootless: cannot make delegated cgroups under $mem and $pids" >&2
        status=1
    fi
    # the test process leaves its toolgym-<pid> cgroups behind (a server reaps stale ones)
    find "$mem" "$pids" -depth -type d -exec rmdir {} + 2>/dev/null
fi
exit $status
