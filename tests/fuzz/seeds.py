#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/TARGET/).

Run from the repository root after a change of the default configuration,
the baselines or the command line: python3 tests/fuzz/seeds.py. Names say
what the replay in tests/test_fuzz.cc asserts: ok-* must be accepted,
bad-* refused (with a well-formed message), any other only keep the
invariants. Kept small: JSON is written compact, tensors are a few bytes."""
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


# (a) config: YAML, then after a NUL the --set lines.
put("config", "ok-default.yaml", read("sim/default.yaml"))
for n in ("tiny-dense", "tiny-sparse", "tiny-wavelet", "small-125m", "wafer-1.3b"):
    put("config", "ok-%s.yaml" % n, read("tests/expected/%s.yaml" % n))
put("config", "ok-empty-sets", b"schema_version: 1\n\0")
put("config", "ok-tiny-sets", read("tests/expected/tiny-dense.yaml") +
    b"\0workload.sparsity=0.75\nworkload.pattern=nm\nworkload.nm_group=4\nfabric.clock=850MHz\n"
    b"workload.sparsity_by_layer.1=0.5\nworkload.sparsity_by_kind.ffn_up=0.5\nsim.fidelity=wavelet")
put("config", "ok-block", b"schema_version: 1\nworkload: {pattern: block, block: 8, sparsity: 0.5}\n"
    b"fabric: {sram_per_pe: 64KiB}\0workload.magnitude.row_sigma=0.5")
put("config", "ok-file", b"schema_version: 1\nmodel: {preset: custom, layers: 1, d_model: 16, heads: 2, d_ff: 32, "
    b"vocab: 32, context: 16}\nworkload: {seq_len: 16, micro_batch: 8, pattern: file, file: {path: w.safetensors, "
    b"layout: nk, tensors: {t.L0.q: L0.q, t.L0.k: L0.k, t.L0.v: L0.v, t.L0.attn_out: L0.attn_out, "
    b"t.L0.ffn_up: L0.ffn_up, 'h.0 \"down\"': L0.ffn_down}}}\n")
put("config", "bad-file-tensors", b"schema_version: 1\nmodel: {preset: 125M}\nworkload: {seq_len: 512, "
    b"micro_batch: 16, pattern: file, file: {path: w.safetensors, layout: nk, tensors: {h.0.q: L0.q}}}\n")
put("config", "bad-tab", b"schema_version: 1\nfabric:\n\twidth: 3\n")
put("config", "bad-unknown-key", b"schema_version: 1\nfabric: {widht: 3}\n")
put("config", "bad-range", b"schema_version: 1\nworkload: {sparsity: 1.0}\n")
put("config", "bad-heads", b"schema_version: 1\nmodel: {preset: custom, layers: 1, d_model: 10, heads: 3, "
    b"d_ff: 8, vocab: 8, context: 8}\nworkload: {seq_len: 8, micro_batch: 8}\n")
put("config", "bad-set", b"schema_version: 1\n\0fabric.width=-1")
put("config", "bad-set-section", b"schema_version: 1\n\0fabric=1")
put("config", "bad-two-docs", b"schema_version: 1\n---\nschema_version: 1\n")
put("config", "bad-anchor", b"schema_version: 1\nfabric: &a {width: 4}\nkernels: *a\n")


# (b) safetensors: a header length, a JSON header, the data.
def st(header, data=b"", hlen=None):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h) if hlen is None else hlen) + h + data


f32 = struct.pack("<6f", 0.5, -2.0, 0.25, 1.0, -0.125, 3.0)
put("safetensors", "ok-f32", st({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}, f32))
put("safetensors", "ok-f16-bf16-u8", st({
    "__metadata__": {"format": "pt"},
    "a": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]},
    "b": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [8, 16]},
    "m": {"dtype": "U8", "shape": [2, 3], "data_offsets": [16, 22]},
    "k": {"dtype": "BOOL", "shape": [1, 2], "data_offsets": [22, 24]}},
    struct.pack("<4H", 0x3C00, 0xBC00, 0x0000, 0x3800) + struct.pack("<4H", 0x3F80, 0x4000, 0x3F00, 0x0001) +
    bytes([1, 0, 2, 0, 0, 1]) + bytes([0, 1])))
put("safetensors", "ok-nan", st({"w": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]}},
                                struct.pack("<fI", 1.0, 0x7FC00000)))
put("safetensors", "ok-ties", st({"w": {"dtype": "F16", "shape": [3, 3], "data_offsets": [0, 18]}},
                                 struct.pack("<9H", *([0x3C00] * 9))))
put("safetensors", "ok-other-dtypes", st({
    "i": {"dtype": "I32", "shape": [1, 1], "data_offsets": [0, 4]},
    "d": {"dtype": "F64", "shape": [1, 1], "data_offsets": [4, 12]},
    "v": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]},
    "z": {"dtype": "F32", "shape": [0, 5], "data_offsets": [20, 20]}}, bytes(20)))
put("safetensors", "bad-short", b"\x08\0\0\0")
put("safetensors", "bad-hlen", st({}, hlen=1 << 40))
put("safetensors", "bad-not-json", struct.pack("<Q", 3) + b"{x}")
put("safetensors", "bad-array", st([1, 2]))
put("safetensors", "bad-dtype", st({"w": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}, b"\0"))
put("safetensors", "bad-offsets", st({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 28]}}, f32))
put("safetensors", "bad-size", st({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 24]}}, f32))
put("safetensors", "bad-dims", st({"w": {"dtype": "U8", "shape": [1] * 9, "data_offsets": [0, 1]}}, b"\1"))
put("safetensors", "bad-dup", struct.pack("<Q", 15) + b'{"a":{},"a":{}}')


# (c) check: documents (compact), one or two split by NUL.
def doc(path):
    return json.dumps(json.loads(read(path)), separators=(",", ":")).encode()


def trimmed(path, n=3):
    """A run document with its first n op rows (still valid: the fuzzer runs faster on less)."""
    d = json.loads(read(path))
    d["run"]["ops"] = d["run"]["ops"][:n]
    return json.dumps(d, separators=(",", ":")).encode()


run, sparse, sweep = trimmed("tests/expected/tiny-dense.json"), trimmed("tests/expected/tiny-sparse.json"), \
    doc("tests/expected/tiny-sweep.json")
put("check", "ok-run.json", run)
put("check", "ok-sweep.json", sweep)
put("check", "ok-run-pair", run + b"\0" + sparse)
moved = json.loads(run)
moved["run"]["totals"]["cycles"] += 1
moved["run"]["ops"].pop()
put("check", "ok-run-moved", run + b"\0" + json.dumps(moved, separators=(",", ":")).encode())
put("check", "run-sweep", run + b"\0" + sweep)
bad = json.loads(run)
bad["run"]["totals"]["cycles"] = "many"
put("check", "bad-type.json", json.dumps(bad, separators=(",", ":")))
put("check", "bad-not-json", b'{"wafersim": ')
put("check", "bad-dup-key", b'{"a": 1, "a": 2}')

# (d) cli: arguments separated by NUL (no trailing NUL: that is an empty argument).
def cli(*args):
    return "\0".join(args).encode()


put("cli", "ok-help", cli("--help"))
put("cli", "ok-version", cli("--version"))
put("cli", "ok-models", cli("models", "--format", "csv"))
put("cli", "ok-config", cli("config", "tests/expected/tiny-dense.yaml", "--format", "json"))
put("cli", "ok-flops", cli("flops", "--sparsity", "0,0.5,0.9", "--per", "kind", "--tiling", "4x4"))
put("cli", "ok-flops-schedule", cli("flops", "--schedule", "0.2,0.84", "--per", "op"))
put("cli", "ok-place", cli("place", "--format", "csv", "--set", "workload.pattern=magnitude"))
put("cli", "ok-run", cli("run", "--set", "workload.sparsity=0.5", "--fidelity", "wavelet", "--seed", "3"))
put("cli", "ok-sweep", cli("sweep", "--sparsity", "0.5", "--vary", "kernels.sparse_setup=0,2", "-j", "2"))
put("cli", "ok-probe", cli("probe", "multicast-row", "--wavelets", "8", "--mesh", "4x4"))
put("cli", "ok-kernel", cli("kernel", "--op", "L0.q", "--region", "4x4", "--batch", "1,8", "--kernel", "sparse,dense",
                            "--micro-batches", "2", "--sparsity", "0.5"))
put("cli", "ok-gemm", cli("gemm", "--m", "4", "--k", "32", "--n", "16", "--sparsity", "0,0.5", "--set",
                          "sim.strategy=layerwise"))
put("cli", "check-run", cli("check", "--baseline", "tests/expected/tiny-dense.json", "--rtol", "0.5"))
put("cli", "check-files", cli("check", "--baseline", "tests/expected/tiny-dense.json",
                              "tests/expected/tiny-sparse.json", "--allow-config-change", "--format", "github",
                              "--only", "cycles"))
put("cli", "bad-command", cli("frobnicate"))
put("cli", "bad-option", cli("run", "--frob"))
put("cli", "bad-set", cli("config", "--set", "fabric.width=0"))
put("cli", "bad-file", cli("config", "no-such-file.yaml"))
put("cli", "bad-value", cli("kernel", "--region", "4y4"))
put("cli", "bad-missing-value", cli("flops", "--per"))
