#!/usr/bin/env python3
"""A minimal CRI v1 client: runs one pod with one container through containerd's CRI plugin,
the way the kubelet would for a pod whose RuntimeClass names a handler.

Only needs `grpcio` (pip). The protobuf messages of the used subset of
k8s.io/cri-api/pkg/apis/runtime/v1/api.proto are encoded by hand below (field numbers
from that file), so no protoc / generated code is needed.

Usage: cri_client.py --address SOCK --handler NAME --image REF --log-dir DIR
                     --cgroup-parent /PATH -- CMD...
Prints one JSON object: pod_id, container_id, exit_code, state, log.
"""

import argparse
import json
import os
import sys
import time

try:
    import grpc
except ImportError:
    sys.exit("cri_client.py needs the grpcio package: pip install grpcio")

SERVICE = "/runtime.v1.RuntimeService/"

# Enum values from api.proto.
NAMESPACE_MODE_NODE = 2
CONTAINER_EXITED = 2


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(num, value):
    return varint(num << 3 | 0) + varint(value)


def f_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def decode(data):
    """Decodes one message level into {field number: [values]} (ints or bytes)."""
    fields, i = {}, 0

    def read_varint():
        nonlocal i
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    while i < len(data):
        key = read_varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            value = read_varint()
        elif wire == 2:
            length = read_varint()
            value = data[i : i + length]
            i += length
        elif wire == 1:
            value = data[i : i + 8]
            i += 8
        elif wire == 5:
            value = data[i : i + 4]
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire} for field {num}")
        fields.setdefault(num, []).append(value)
    return fields


def first(fields, num, default=None):
    return fields.get(num, [default])[0]


def signed32(v):
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >= 1 << 63 else v


class Cri:
    def __init__(self, address):
        self.channel = grpc.insecure_channel("unix://" + address)

    def call(self, method, request):
        rpc = self.channel.unary_unary(SERVICE + method)
        return decode(rpc(request, timeout=60))


def pod_sandbox_config(args):
    metadata = (
        f_bytes(1, "sealrun-e2e")  # name
        + f_bytes(2, "uid-" + str(os.getpid()))  # uid
        + f_bytes(3, "default")  # namespace
        + f_varint(4, 0)  # attempt
    )
    # Host network: no CNI is needed (this machine has none).
    namespace_options = f_varint(1, NAMESPACE_MODE_NODE)
    security_context = f_bytes(1, namespace_options)
    linux = f_bytes(1, args.cgroup_parent) + f_bytes(2, security_context)
    return (
        f_bytes(1, metadata)
        # No hostname: with the host's UTS namespace (host network) setting one is an error.
        + f_bytes(3, args.log_dir)  # log_directory
        + f_bytes(8, linux)
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--handler", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--log-dir", required=True)
    p.add_argument("--cgroup-parent", required=True)
    p.add_argument("cmd", nargs="+")
    args = p.parse_args()
    cri = Cri(args.address)

    version = cri.call("Version", f_bytes(1, "v1"))
    api_version = first(version, 4, b"").decode()
    if api_version != "v1":
        sys.exit(f"CRI Version: expected runtime_api_version v1, found {api_version!r}")

    sandbox_config = pod_sandbox_config(args)
    pod = cri.call("RunPodSandbox", f_bytes(1, sandbox_config) + f_bytes(2, args.handler))
    pod_id = first(pod, 1).decode()

    container_config = (
        f_bytes(1, f_bytes(1, "main"))  # metadata.name
        + f_bytes(2, f_bytes(1, args.image))  # image.image
        + b"".join(f_bytes(3, c) for c in args.cmd)  # command
        + f_bytes(11, "main.log")  # log_path, relative to the pod's log_directory
    )
    created = cri.call(
        "CreateContainer",
        f_bytes(1, pod_id) + f_bytes(2, container_config) + f_bytes(3, sandbox_config),
    )
    container_id = first(created, 1).decode()
    cri.call("StartContainer", f_bytes(1, container_id))

    deadline = time.monotonic() + 60
    while True:
        status = decode(first(cri.call("ContainerStatus", f_bytes(1, container_id)), 1, b""))
        state = first(status, 3, 0)
        if state == CONTAINER_EXITED or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    exit_code = signed32(first(status, 7, 0))

    # The CRI plugin closes the log once the container's io is drained.
    log_path = os.path.join(args.log_dir, "main.log")
    log = open(log_path).read() if os.path.exists(log_path) else ""

    cri.call("RemoveContainer", f_bytes(1, container_id))
    cri.call("StopPodSandbox", f_bytes(1, pod_id))
    cri.call("RemovePodSandbox", f_bytes(1, pod_id))

    json.dump(
        {
            "pod_id": pod_id,
            "container_id": container_id,
            "state": state,
            "exit_code": exit_code,
            "log": log,
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
