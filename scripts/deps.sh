#!/bin/sh
# deps.sh — check that the Debian packages a make target needs are installed.
#
# usage: sh scripts/deps.sh [bench] [lint] [format] [test-tools] [fuzz]
# With no argument it checks what `make`, `make test` and `make run` need: the compiler, make,
# pkg-config, the -dev libraries the build links, CUnit (tests), bc (the calculator tests'
# oracle), python3 (the sandbox runs /usr/bin/python3; make run parses JSON with it) and the
# curl command (make run). Each argument adds what one other target needs: bench adds wrk and
# nginx (bench/balancer.sh), lint adds cppcheck and git, format adds clang-format and git,
# test-tools adds the programs some suites drive when they are there: nginx (suite nginx: three
# servers behind a real balancer), chromium (suite status: the status page in a headless
# browser) and npm (suite mcp_conformance installs the official MCP conformance suite and
# Node 22 with it, into build/mcp-conformance). Without them those tests print a SKIP notice
# and count as skipped, not passed; .ci/run installs them (sh scripts/deps.sh test-tools) so
# CI runs them all. fuzz (make fuzz) adds
# clang and its compiler-rt (libFuzzer and the sanitizer runtimes: libclang-rt-dev, only a
# Recommends of clang, so --no-install-recommends leaves it out).
#
# When something is missing: as root (a fresh machine, CI) it installs it with
# apt-get --no-install-recommends; as any other user it prints the one apt-get line to run
# and exits 1. Prints nothing when all is there.
set -u
missing=""
add() { case " $missing " in *" $1 "*) ;; *) missing="$missing $1" ;; esac; }
need_pc() { pkg-config --exists "$1" 2>/dev/null || add "$2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || add "$2"; }
need_file() { [ -e "$1" ] || add "$2"; }

# build
need_cmd make make
need_cmd cc gcc
need_cmd pkg-config pkg-config
need_pc libmicrohttpd libmicrohttpd-dev
need_pc jansson libjansson-dev
need_pc libcurl libcurl4-openssl-dev
need_pc libseccomp libseccomp-dev
# GLPK: the freeze planner's LP solver (policy/freeze_plan.c)
need_file /usr/include/glpk.h libglpk-dev
# WordNet 3.0: what words can mean, for the policy (policy/lexicon.h)
need_file /usr/share/wordnet/index.noun wordnet-base
# test
need_pc cunit libcunit1-dev
need_cmd bc bc
# test and run: the sandbox execs /usr/bin/python3; run.sh calls python3 and curl
need_file /usr/bin/python3 python3
need_cmd curl curl

for target in "$@"; do
    case $target in
        bench) need_cmd wrk wrk; need_file /usr/sbin/nginx nginx ;;
        test-tools)
            need_file /usr/sbin/nginx nginx
            need_file /usr/bin/chromium chromium
            need_cmd npm npm
            ;;
        lint) need_cmd cppcheck cppcheck; need_cmd git git ;;
        format) need_cmd clang-format clang-format; need_cmd git git ;;
        fuzz)
            need_cmd clang clang
            if command -v clang >/dev/null 2>&1; then
                need_file "$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a" \
                    libclang-rt-dev
            else
                add libclang-rt-dev
            fi
            ;;
        *) echo "deps: unknown target '$target' (bench, lint, format, test-tools, fuzz)" >&2; exit 2 ;;
    esac
done

[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: install them as root, then run make again:" >&2
    echo "    apt-get install --no-install-recommends$missing" >&2
    exit 1
fi
echo "deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || exit 1
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2 || exit 1
