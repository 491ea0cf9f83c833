#!/usr/bin/env python3
"""Model-signature verification benchmark: `sealrun verify model` against the Python
reference `model_signing verify` on the same generated model, in one run.

Both verify the same OMS bundle (signed once by sealrun with a P-256 key) over the same
model directory with a warm page cache, interleaved round-robin. Also measured, as the
ceiling: one core's SHA-256 throughput (OpenSSL through Python's hashlib, the same
assembly class as ring/aws-lc) times the number of cores.

Needs python3 with a venv holding model-signing (image/tests/setup-model-signing.sh makes
it at $SEALRUN_MODEL_SIGNING_VENV, default ~/.cache/sealrun-venv), openssl, GNU time at
/usr/bin/time (peak RSS), and a release build of sealrun. See benches/README.md.
"""

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MIB = 1 << 20


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mib", type=int, default=2048, help="total model size in MiB (default 2048)")
    p.add_argument("--files", type=int, default=8, help="number of weight files (default 8, plus small ones)")
    p.add_argument("--iterations", type=int, default=3, help="timed runs per verifier (default 3)")
    p.add_argument("--dir", help="where to generate the model (default: a temp dir, removed after)")
    p.add_argument("--sealrun", help="sealrun binary (default $CARGO_TARGET_DIR/release/sealrun)")
    return p.parse_args()


def venv():
    return os.environ.get("SEALRUN_MODEL_SIGNING_VENV") or os.path.expanduser("~/.cache/sealrun-venv")


def generate(model, size_mib, files):
    os.makedirs(os.path.join(model, "tokenizer"), exist_ok=True)
    per = size_mib * MIB // files
    block = os.urandom(4 * MIB)  # random data; rotated so no two chunks are identical
    for i in range(files):
        with open(os.path.join(model, f"model-{i:05d}-of-{files:05d}.safetensors"), "wb") as f:
            left, n = per, 0
            while left > 0:
                chunk = block[n % 4096 :] + block[: n % 4096]
                f.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
                n += 1
    with open(os.path.join(model, "config.json"), "w") as f:
        f.write('{"architectures": ["Bench"], "hidden_size": 4096}\n')
    with open(os.path.join(model, "tokenizer", "tokenizer.json"), "w") as f:
        f.write('{"version": "1.0"}\n')


def warm(model):
    for root, _, names in os.walk(model):
        for n in names:
            with open(os.path.join(root, n), "rb") as f:
                while f.read(16 * MIB):
                    pass


def sha256_one_core(seconds=2.0):
    buf = os.urandom(64 * MIB)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        hashlib.sha256(buf).digest()
        n += len(buf)
    return n / (time.perf_counter() - t0)


def timed(cmd):
    """Wall time and peak RSS (KiB) of one run; raises on failure."""
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "MAXRSS=%M"] + cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    rss = int(re.findall(r"MAXRSS=(\d+)", r.stderr)[-1])
    return wall, rss


def main():
    a = parse_args()
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(os.getcwd(), "target")
    sealrun = a.sealrun or os.path.join(target, "release", "sealrun")
    ms = os.path.join(venv(), "bin", "model_signing")
    for need in (sealrun, ms, "/usr/bin/time"):
        if not os.path.exists(need):
            sys.exit(f"missing {need} (see benches/README.md)")
    work = a.dir or tempfile.mkdtemp(prefix="sealrun-oms-bench-")
    try:
        model = os.path.join(work, "model")
        key, pub, sig = (os.path.join(work, n) for n in ("key.pem", "pub.pem", "model.sig"))
        if not os.path.exists(model):
            generate(model, a.size_mib, a.files)
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], check=True)
        subprocess.run(["openssl", "ec", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
        subprocess.run([sealrun, "sign", "model", model, "--key", key, "--signature", sig], check=True)
        warm(model)
        cmds = {
            "sealrun": [sealrun, "verify", "model", model, "--signature", sig, "--key", pub],
            "model_signing": [ms, "verify", "key", model, "--signature", sig, "--public_key", pub],
        }
        samples = {k: [] for k in cmds}
        for _ in range(a.iterations):
            for name, cmd in cmds.items():
                samples[name].append(timed(cmd))
        one = sha256_one_core()
        cores = os.cpu_count() or 1
        total = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(model) for n in ns)
        print(f"model: {total / MIB:.0f} MiB in {a.files + 2} files; {cores} cores; {a.iterations} runs each, warm cache")
        print(f"ceiling: one core SHA-256 {one / MIB:.0f} MiB/s x {cores} cores = {one * cores / MIB:.0f} MiB/s")
        print(f"{'verifier':<14} {'median s':>9} {'MiB/s':>8} {'% ceiling':>10} {'peak RSS MiB':>13}")
        med = {}
        for name, s in samples.items():
            wall = statistics.median(w for w, _ in s)
            rss = max(r for _, r in s) / 1024
            med[name] = wall
            rate = total / wall
            print(f"{name:<14} {wall:>9.2f} {rate / MIB:>8.0f} {100 * rate / (one * cores):>9.0f}% {rss:>13.1f}")
        print(f"speedup sealrun vs model_signing: {med['model_signing'] / med['sealrun']:.2f}x (target >= 1.8x)")
    finally:
        if not a.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
