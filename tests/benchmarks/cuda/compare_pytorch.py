#!/usr/bin/env python3
"""PyTorch eager equivalents of Quantscope's CUDA kernels, timed like cudaTimeKernelMs.

Times, on a float32 tensor of --gib GiB (normal, sigma 0.02, every 4099th value x50, the same recipe as
qs_cuda_bench --bench), with CUDA events around each call (two warm-up calls, median of --repeats):

  absmax                      x.abs().amax()
  histogram 2048              torch.histc(x, 2048, min, max)
  per-channel int8 fake-quant torch.fake_quantize_per_channel_affine on [n/4096, 4096], q in [-127, 127]
  ... + error sums            the same plus the five error sums and max|e| of ErrorSums, in eager ops
  group-128 int8 quantize     absmax per 128, round(x / s) clamped to [-127, 127], cast to int8
  scaled E4M3 cast            (x * s).to(torch.float8_e4m3fn)
  copy                        x.clone()

and prints them next to Quantscope's kernels from qs_cuda_bench's JSON (--ours FILE, or --driver PATH to run
it first). GB/s is input bytes / time for every row, so rows compare directly; "ours" may be a sum of two
kernels (per-group absmax, then the fused pass). Our fused kernels read x once and write nothing unless the
kernel name says "fakequant_values" (which writes float32 x̂, as fake_quantize does); "pack …" kernels write
the int8 / E4M3 codes as the torch ops do ("pack int8 group:128" is one kernel that reads x once, reduces
each group and writes its codes and scale; "pack fp8_e4m3 tensor" is the range reduction and the packing
kernel, the scale derived between them on the host not timed); "cast fp8_e4m3 scaled" (cudaScaledE4M3) is
given the scale 448 / absmax as the torch op is and writes the E4M3 codes in one pass (it saturates where
torch gives NaN, |x·s| >= 480).

Usage: python3 compare_pytorch.py [--gib 1] [--repeats 20] [--ours ours.json | --driver build/qs_cuda_bench]
"""

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile

import torch


def time_ms(fn, repeats):
    fn()
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def bench_torch(gib, repeats):
    n = int(gib * 2**30 / 4) // 4096 * 4096
    x = torch.randn(n, device="cuda", dtype=torch.float32) * 0.02
    x[::4099] *= 50.0
    lo, hi = x.min().item(), x.max().item()
    absmax = x.abs().amax()

    x2 = x.view(-1, 4096)
    channel_scale = (x2.abs().amax(1) / 127.0).clamp_min(torch.finfo(torch.float32).tiny)
    channel_zero = torch.zeros(x2.shape[0], dtype=torch.int32, device="cuda")

    def fake_quant_channel():
        return torch.fake_quantize_per_channel_affine(x2, channel_scale, channel_zero, 0, -127, 127)

    def fake_quant_channel_error():
        y = fake_quant_channel()
        e = x2 - y
        return torch.stack([(e * e).sum(), (x2 * x2).sum(), e.abs().sum(), (x2 * y).sum(), (y * y).sum(),
                            e.abs().max()])

    xg = x.view(-1, 128)

    def group_quant():
        s = xg.abs().amax(1, keepdim=True) / 127.0
        return torch.clamp(torch.round(xg / s), -127, 127).to(torch.int8)

    e4m3_scale = 448.0 / absmax

    rows = [
        ("absmax", lambda: x.abs().amax(), [["minmax"]]),
        ("histogram 2048 bins", lambda: torch.histc(x, bins=2048, min=lo, max=hi), [["histogram 2048"]]),
        ("per-channel int8 fake-quant", fake_quant_channel,
         [["fakequant_values int8 channel 4096"], ["fakequant int8 channel 4096"]]),
        ("per-channel int8 fake-quant + error sums", fake_quant_channel_error,
         [["fakequant int8 channel 4096"]]),
        ("group-128 int8 quantize", group_quant,
         [["pack int8 group:128"], ["minmax_rows 128", "fakequant int8 group:128"],
          ["minmax_rows 128", "fakequant_values int8 group:128"]]),
        ("scaled E4M3 cast", lambda: (x * e4m3_scale).to(torch.float8_e4m3fn),
         [["cast fp8_e4m3 scaled"], ["pack fp8_e4m3 tensor"], ["fakequant fp8_e4m3 tensor"],
          ["fakequant_values fp8_e4m3 tensor"]]),
        ("copy", lambda: x.clone(), [["copy"]]),
    ]
    results = []
    for name, fn, ours in rows:
        results.append((name, time_ms(fn, repeats), ours))
    bytes_in = n * 4
    del x, x2, xg
    torch.cuda.empty_cache()
    return bytes_in, results


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--ours", help="qs_cuda_bench --bench --json output")
    parser.add_argument("--driver", help="path of qs_cuda_bench, run first with the same size and repeats")
    args = parser.parse_args()

    ours = None
    if args.driver:
        with tempfile.NamedTemporaryFile(suffix=".json") as file:
            subprocess.run([args.driver, "--bench", "--gib", str(args.gib), "--repeats", str(args.repeats),
                            "--json", file.name], check=True)
            ours = json.load(open(file.name))
    elif args.ours:
        ours = json.load(open(args.ours))

    bytes_in, results = bench_torch(args.gib, args.repeats)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
          f"{datetime.date.today()}, {bytes_in / 2**30:.3f} GiB float32, median of {args.repeats}")
    print(f"{'operation':42} {'torch ms':>9} {'GB/s':>7}   {'quantscope kernel(s)':52} {'ms':>8} {'GB/s':>7} "
          f"{'speed-up':>8}")
    for name, ms, alternatives in results:
        print(f"{name:42} {ms:9.3f} {bytes_in / ms / 1e6:7.0f}", end="")
        if not ours:
            print()
            continue
        for k, kernels in enumerate(alternatives):
            our_ms = sum(ours["kernels"][kernel]["ms"] for kernel in kernels)
            lead = "" if k == 0 else " " * 60
            print(f"{lead}   {' + '.join(kernels):52} {our_ms:8.3f} {bytes_in / our_ms / 1e6:7.0f} "
                  f"{ms / our_ms:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
