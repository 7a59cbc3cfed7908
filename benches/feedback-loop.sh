#!/usr/bin/env bash
# Save-to-verdict for one scene, against a bare `cargo build` of the same crate.
#
# Each round edits the crate (a new comment line, as a save would), then times
# `cargo grade check` to its verdict, edits again, and times `cargo build`. The two are
# interleaved in one run so that the machine's noise falls on both; the ratio of the medians is
# the figure to quote, not either time alone.
#
#   benches/feedback-loop.sh [SCENE] [ROUNDS]     (defaults: primitives/crc32, 7)
set -euo pipefail
cd "$(dirname "$0")/.."

scene=${1:-primitives/crc32}
rounds=${2:-7}
track=${scene%/*}
name=${scene#*/}
exercise=$(ls -d exercises/"$track"/[0-9][0-9]-"$name")
solution=solutions/"$track"/$(basename "$exercise")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$exercise/Cargo.toml" "$work/"
printf '\n[workspace]\n' >> "$work/Cargo.toml"
cp -r "$solution/src" "$work/src"

cargo build --quiet --package grader
now() { date +%s%N; }
edit() { echo "// edit $1" >> "$work/src/lib.rs"; }

# Warm both paths once: the first build of the checks is not the loop a learner lives in.
cargo grade check "$scene" --impl "$work" > /dev/null
cargo build --quiet --manifest-path "$work/Cargo.toml"

grade_ms=()
build_ms=()
for round in $(seq "$rounds"); do
    edit "grade $round"
    start=$(now)
    cargo grade check "$scene" --impl "$work" > /dev/null
    grade_ms+=($(( ($(now) - start) / 1000000 )))

    edit "build $round"
    start=$(now)
    cargo build --quiet --manifest-path "$work/Cargo.toml"
    build_ms+=($(( ($(now) - start) / 1000000 )))
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
grade_median=$(median "${grade_ms[@]}")
build_median=$(median "${build_ms[@]}")
echo "scene:                 $scene ($rounds rounds)"
echo "save to verdict:       ${grade_median} ms median (${grade_ms[*]})"
echo "bare cargo build:      ${build_median} ms median (${build_ms[*]})"
awk -v g="$grade_median" -v b="$build_median" \
    'BEGIN { printf "ratio (verdict/build): %.2f\n", g / b }'
