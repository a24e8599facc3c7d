#!/bin/sh
# lint.sh — static checks: no banned functions (STYLE.md rule 10) and a clean cppcheck run.
set -u
cd "$(dirname "$0")/.." || exit 1
status=0
files=$(git ls-files '*.c' '*.h')
banned=$(echo "$files" | xargs grep -nHE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok)\s*\(' 2>/dev/null)
if [ -n "$banned" ]; then
    echo "lint: banned functions (STYLE.md rule 10):"
    echo "$banned"
    status=1
fi
# one spelling of the out-of-memory, I/O and config codes: TG_CODE_NOMEM, TG_CODE_IO and
# TG_CODE_CONFIG of base/tg.h, never a literal (tests may compare with the literal)
spelled=$(echo "$files" | grep -v '^tests/' | xargs grep -nHE \
    'tg_error_set\([^,]*, *"(nomem|oom|out_of_memory|io|io_error|config|bad_config|invalid_config)"' \
    2>/dev/null)
if [ -n "$spelled" ]; then
    echo "lint: spell these codes TG_CODE_NOMEM, TG_CODE_IO or TG_CODE_CONFIG (base/tg.h):"
    echo "$spelled"
    status=1
fi
if command -v cppcheck >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    if ! cppcheck -q --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
        --inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE -DTG_DEBUG \
        -I . $(echo "$files" | grep '\.c$'); then
        echo "lint: cppcheck found problems"
        status=1
    fi
else
    echo "lint: cppcheck not installed" >&2
    status=1
fi
[ $status = 0 ] && echo "lint: clean"
exit $status
