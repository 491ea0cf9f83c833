#!/usr/bin/env bash
# Run one container with sealrun: a busybox rootfs (from Debian's busybox-static), the
# default spec of `sealrun spec`, and a command that shows what the container sees.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sealrun=${SEALRUN:-${CARGO_TARGET_DIR:-$here/../../target}/release/sealrun}
[ -x "$sealrun" ] || sealrun=$(command -v sealrun) || { echo "build sealrun first: cargo build --release -p sealrun" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "needs /bin/busybox: apt-get install busybox-static" >&2; exit 1; }
work=$(mktemp -d /tmp/sealrun-hello.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev" "$work/rootfs/tmp" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"
"$sealrun" spec --bundle "$work"
python3 - "$work/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "echo hello from sealrun: pid $$ on $(hostname); id; grep -E '^(CapEff|NoNewPrivs|Seccomp)' /proc/self/status; ls /"]
c["hostname"] = "sealrun-hello"
json.dump(c, open(p, "w"), indent=2)
PY
exec "$sealrun" --root "$work/state" run --bundle "$work" "hello-$$"
