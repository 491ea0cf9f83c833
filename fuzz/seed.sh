#!/bin/sh
# Copies the fixtures of 64 KiB and more (kept out of the repository's corpus/) into
# corpus-large/<target>/, a second, read-only seed directory for `cargo fuzz run`.
# Usage: fuzz/seed.sh   (SEALRUN_FIXTURES overrides ../shared/fixtures)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
fixtures=${SEALRUN_FIXTURES:-$here/../../shared/fixtures}
large=$here/corpus-large
mkdir -p "$large/sbom_parse"
for f in "$fixtures"/sbom/*; do
    if [ "$(stat -c %s "$f")" -ge 65536 ]; then
        cp "$f" "$large/sbom_parse/"
    fi
done
chmod -R u+w "$large"
echo "seeded $(find "$large" -type f | wc -l) large files into $large"
