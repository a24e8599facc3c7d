#!/bin/sh
# deps.sh — make sure the build and test dependencies are installed.
# Checks libraries with pkg-config and tools with command -v; when something is missing and
# we are root, installs it with apt-get --no-install-recommends; otherwise says what to install.
set -u
missing=""
need_pc() { pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
need_file() { [ -e "$1" ] || missing="$missing $2"; }

need_cmd pkg-config pkg-config
need_cmd cc gcc
need_pc libmicrohttpd libmicrohttpd-dev
need_pc jansson libjansson-dev
need_pc libcurl libcurl4-openssl-dev
need_pc libseccomp libseccomp-dev
need_pc cunit libcunit1-dev
need_file /usr/include/glpk.h libglpk-dev
need_cmd bc bc
need_file /usr/bin/python3 python3
need_cmd wrk wrk
need_cmd nginx nginx

[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing:$missing — install them with: sudo apt-get install --no-install-recommends$missing" >&2
    exit 1
fi
echo "deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || exit 1
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2 || exit 1
