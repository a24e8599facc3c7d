#!/bin/sh
# install.sh — `make install`: copy the binary and its data into a prefix.
#
# usage: sh scripts/install.sh BIN PREFIX
#   BIN     the binary to install (make passes $(BUILD)/toolgym)
#   PREFIX  where to install (make passes $(DESTDIR)$(PREFIX); PREFIX defaults to /usr/local)
# Writes PREFIX/bin/toolgym and PREFIX/share/toolgym/ (every file under data/: the search
# corpus, tasks/train.jsonl, tasks/test.jsonl and tasks/ood.jsonl, the task grammar in grammar/,
# rewards.json). The binary finds that data
# as BINDIR/../share/toolgym (base/datadir.h), so the installed tree works from any directory
# and can be moved as a whole. Files of an earlier install are replaced; nothing else is
# removed. `sh scripts/install.sh --uninstall PREFIX` removes what an install wrote.
set -eu
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
if [ "${1:-}" = --uninstall ]; then
    prefix=$(abs "${2:?usage: install.sh --uninstall PREFIX}")
    rm -f "$prefix/bin/toolgym"
    rm -rf "$prefix/share/toolgym"
    echo "uninstalled toolgym from $prefix"
    exit 0
fi
bin=$(abs "${1:?usage: install.sh BIN PREFIX}")
prefix=$(abs "${2:?usage: install.sh BIN PREFIX}")
cd "$(dirname "$0")/.."   # data/ is relative to the checkout
[ -x "$bin" ] || { echo "install: $bin is not a built binary (run make first)" >&2; exit 1; }
[ -f data/corpus.jsonl ] || { echo "install: data/corpus.jsonl is missing" >&2; exit 1; }

install -d "$prefix/bin" "$prefix/share/toolgym"
install -m 755 "$bin" "$prefix/bin/toolgym"
find data -type f | sort | while IFS= read -r f; do
    install -D -m 644 "$f" "$prefix/share/toolgym/${f#data/}"
done
echo "installed $prefix/bin/toolgym and its data in $prefix/share/toolgym"
