#!/bin/sh
# Instructions per call of each crossing shape (issue 24, design §2.9 and §5.4), counted by
# callgrind inside `bench_loop` only, so a busy machine does not change the figures.
#   experiments/wasm-shapes/run.sh HOST [N]     (from the repository root)
# HOST: a shapes-host binary (README.md builds one per wasmtime version). Prints one line
# per case: case, instructions per call.
set -eu
host=$1; n=${2:-2000}
shipped=target/wasm32-wasip2/policy/forge_authz_guest.wasm
shapes=target/wasm-shapes/wasm32-wasip2/policy/shapes_guest.wasm
out=$(mktemp -d)
"$host" precompile 0 "$shipped" "$shapes"
for case in native-token native-anon s1-nop s1-token s1-anon s0-nop s2-token s2-anon s3-token s3-anon s4-token s4-anon; do
    valgrind --tool=callgrind --callgrind-out-file="$out/$case" --toggle-collect='*bench_loop*' \
        "$host" "$case" "$n" "$shipped" "$shapes" 2>"$out/$case.err" ||
        { echo "$case failed:"; cat "$out/$case.err"; exit 1; }
    total=$(sed -n 's/^summary: //p' "$out/$case")
    echo "$case $((total / n))"
done
rm -r "$out"
