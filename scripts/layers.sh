#!/bin/sh
# layers.sh — fail when a lower layer includes a higher one.
# The layers, lowest first: base → tools → server → client → policy → cmd.
# A file may include headers of its own layer and of the layers below it; tests and benches
# may include any layer.
set -u
cd "$(dirname "$0")/.." || exit 1
order="base tools server client policy cmd"
rank() {
    r=0
    for l in $order; do
        [ "$l" = "$1" ] && { echo $r; return; }
        r=$((r + 1))
    done
    echo -1
}
status=0
out=$(mktemp) || exit 1
for layer in $order; do
    own=$(rank "$layer")
    for f in $(find "$layer" -name "*.[ch]" | sort); do
        grep -n '^#include "' "$f" | while IFS= read -r line; do
            inc=${line#*#include \"}
            inc=${inc%%\"*}
            dir=${inc%%/*}
            [ "$dir" = "$inc" ] && { echo "$f: '$inc' names no layer folder"; continue; }
            r=$(rank "$dir")
            if [ "$r" -lt 0 ]; then
                echo "$f: includes '$inc' from outside the layers"
            elif [ "$r" -gt "$own" ]; then
                echo "$f: layer $layer includes $inc of the higher layer $dir"
            fi
        done
    done
done >"$out" 2>&1 || true
if [ -s "$out" ]; then
    echo "layers: a lower layer includes a higher one (order: $order):"
    cat "$out"
    status=1
else
    echo "layers: clean ($order)"
fi
rm -f "$out"
exit $status
