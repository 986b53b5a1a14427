#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (AddressSanitizer, coverage on our Swift and C code)
# and runs each in turn for SECONDS (default 60), seeded with the test fixtures.
#   scripts/fuzz.sh [SECONDS]
# The corpus grows in Fuzz/corpus-<target>/ between runs; crashing, hanging and leaking inputs
# land in Fuzz/crashes/<target>-{crash,timeout,oom,leak}-*, the libFuzzer output in
# Fuzz/logs/<target>.log. Replay one input with (leaks need the suppressions, see lsan.supp)
#   LSAN_OPTIONS=suppressions=Fuzz/lsan.supp Fuzz/.build/release/<target> Fuzz/crashes/<file>
# Exits non-zero when any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

# libFuzzer's main is reached through LLVMFuzzerRunDriver (see Fuzz/Sources/CLibFuzzer/shim.h);
# the C codecs need fuzzer-no-link for coverage without a second libFuzzer main.
swift build -c release --package-path Fuzz --build-path Fuzz/.build \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
bin=Fuzz/.build/release

# Seeds from the generated fixtures; while the generator still runs, from its partial folder.
if [ -d .fixtures/current ]; then
    fixtures=$(readlink -f .fixtures/current)
else
    fixtures=$(ls -dt .fixtures/*.partial 2>/dev/null | head -1 || true)
fi
if [ -z "$fixtures" ] || [ ! -d "$fixtures" ]; then
    echo "fuzz: no fixtures (run scripts/test.sh once); starting from empty corpora" >&2
fi

# Copies files into a corpus under names unique per fixture path (libFuzzer ignores names).
seed() {
    local corpus=$1
    while IFS= read -r file; do
        cp -n "$file" "$corpus/seed-$(echo "${file#"$fixtures"/}" | tr '/' '_')"
    done
}

mkdir -p Fuzz/crashes Fuzz/logs Fuzz/corpus-FuzzImages Fuzz/corpus-FuzzWeights
if [ -n "$fixtures" ] && [ -d "$fixtures" ]; then
    # Every decoder: photos, synthetic variants and broken files of each format (-size is in
    # whole units, so -1024k and not -1M, which would mean empty files only).
    find "$fixtures/images" -type f -size -1024k \
        \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.gif' -o -iname '*.bmp' \) \
        2>/dev/null | seed Fuzz/corpus-FuzzImages
    # Every weight-file layout: the four smallest files under 3 MB of each fixture folder
    # (legacy, full model, Keras 3 .weights.h5, .keras, damaged ones, ...).
    find "$fixtures" -type f \( -name '*.h5' -o -name '*.keras' \) -size -3072k -printf '%h %s %p\n' \
        | sort -k1,1 -k2,2n | awk '{ if (++n[$1] <= 4) print $3 }' | seed Fuzz/corpus-FuzzWeights
fi

# target, -max_len, -timeout: images up to 1 MB (the photos seeded are below), weights up to
# 4 MB; a weights input is opened twice (a forked child first, as the CLI does) and hashed by
# inspect, so it may take seconds on a loaded machine.
targets=("FuzzImages 1048576 10" "FuzzWeights 4194304 30")
summary=()
failed=0
for entry in "${targets[@]}"; do
    read -r target maxlen timeout <<<"$entry"
    log=Fuzz/logs/$target.log
    found_before=$(find Fuzz/crashes -name "$target-*" | wc -l)
    echo "fuzz: $target for ${seconds}s ($(ls "Fuzz/corpus-$target" | wc -l) corpus files)" >&2
    start=$SECONDS
    status=0
    # -fork=1 (one worker, as a plain run) with -ignore_*: a finding is written to
    # Fuzz/crashes/ and the run goes on, so a known libhdf5 hang does not end a long run
    # in its first minutes.
    LSAN_OPTIONS=suppressions=Fuzz/lsan.supp:print_suppressions=0 \
        "$bin/$target" "Fuzz/corpus-$target" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
        -ignore_ooms=1 -max_total_time="$seconds" -max_len="$maxlen" -rss_limit_mb=2048 \
        -timeout="$timeout" -artifact_prefix="Fuzz/crashes/$target-" >"$log" 2>&1 || status=$?
    ran=$((SECONDS - start))
    # Scratch files of FuzzWeights workers killed on a finding (see its main.swift).
    rm -f /dev/shm/fuzz-weights-*.h5
    # The fork parent's last status line: "#execs: cov: .. oom/timeout/crash: a/b/c time: ..".
    stats=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1 || true)
    found=$(($(find Fuzz/crashes -name "$target-*" | wc -l) - found_before))
    if [ "$status" -eq 0 ] && [ "$found" -eq 0 ]; then
        summary+=("$target: ran ${ran}s, clean; ${stats:-no stats, see $log}")
    else
        failed=1
        summary+=("$target: ran ${ran}s, exit $status, $found new in Fuzz/crashes/; ${stats:-see $log}")
    fi
done
printf '%s\n' "${summary[@]}"
exit $failed
