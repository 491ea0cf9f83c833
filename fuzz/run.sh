#!/bin/sh
# Runs each fuzz target (or those named) for $SECONDS_PER_TARGET seconds (default 60) on one
# core, from the binaries `cargo fuzz build` left in $CARGO_TARGET_DIR, so no cargo (and no
# build lock) is held while fuzzing. New inputs go to work/<target>/ (git-ignored); the
# checked-in corpus/<target>/ and seed.sh's corpus-large/<target>/ are only read. Crashes
# land in artifacts/<target>/. Each run's libFuzzer log is work/<target>/fuzz-0.log.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target_dir=${CARGO_TARGET_DIR:-$HOME/.cache/sealrun-fuzz-target}
bin_dir=$target_dir/x86_64-unknown-linux-gnu/release
secs=${SECONDS_PER_TARGET:-60}
all="oms_bundle oci_manifest tar_unpack sbom_parse osv_record snp_report tdx_quote spdm jwe policy_toml"
[ $# -gt 0 ] && all="$*"
for t in $all; do
    work=$here/work/$t
    mkdir -p "$work/corpus" "$here/artifacts/$t"
    set -- "$work/corpus" "$here/corpus/$t"
    [ -d "$here/corpus-large/$t" ] && set -- "$@" "$here/corpus-large/$t"
    # -jobs=1: one fuzzing process (libFuzzer then logs to fuzz-0.log in the cwd).
    (cd "$work" && "$bin_dir/$t" "$@" -max_total_time="$secs" -jobs=1 -timeout=25 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$here/artifacts/$t/" \
        >/dev/null 2>&1) || echo "$t: libFuzzer exited $? (see $work/fuzz-0.log)"
    echo "== $t"
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|^==[0-9]+== ERROR|panicked at|^SUMMARY' "$work/fuzz-0.log" || true
done
