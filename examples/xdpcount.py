#!/usr/bin/env python3
"""Count packets arriving on a network interface with XDP (per-CPU counters summed in Python).

Attaches an XDP program (``Program.attach_xdp(ifindex)``) that counts every
packet and byte received on --ifname and lets it pass. Prints the packet rate
every interval and the totals at the end. Needs root.

    python xdpcount.py --ifname IFNAME [--skb-mode] [--seconds N] [--interval S] [--json]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time

from _common import add_seconds, compile_bpf, parse_args, ready, repeat_until, run_main

import libbpf_py

XDP_FLAGS_SKB_MODE = 1 << 1


def totals(stats: libbpf_py.Map) -> tuple[int, int, int]:
    """Packets and bytes summed over the CPUs, and the number of CPUs that saw any."""
    per_cpu = stats[0]  # a per-CPU array reads as a list: one value per possible CPU
    return (sum(v.packets for v in per_cpu), sum(v.bytes for v in per_cpu),
            sum(1 for v in per_cpu if v.packets))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ifname", required=True, help="interface to count on (e.g. eth0)")
    ap.add_argument("--skb-mode", action="store_true",
                    help="generic (skb) XDP instead of the driver's native mode")
    add_seconds(ap)
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between lines")
    args = parse_args(ap, "xdpcount")
    try:
        ifindex = socket.if_nametoindex(args.ifname)
    except OSError:
        sys.exit(f"xdpcount: no interface named {args.ifname!r} in this network namespace")

    with libbpf_py.BpfObject.open_mem(compile_bpf("xdpcount"), name="xdpcount") as obj:
        obj.load()
        stats = obj.maps["stats"]
        flags = XDP_FLAGS_SKB_MODE if args.skb_mode else 0
        try:
            link = obj.programs["xdp_count"].attach_xdp(ifindex, flags=flags)
        except libbpf_py.LibbpfError as e:
            sys.exit(f"xdpcount: cannot attach XDP to {args.ifname}: {e}")
        with link:
            ready(f"xdpcount: counting packets on {args.ifname} (ifindex {ifindex}), "
                  "Ctrl-C to stop")
            start = last_t = time.monotonic()
            last_p = 0

            def tick(wait: float) -> None:
                nonlocal last_p, last_t
                time.sleep(wait)
                packets, nbytes, _ = totals(stats)
                now = time.monotonic()
                if not args.json:
                    rate = (packets - last_p) / max(now - last_t, 1e-9)
                    print(f"{now - start:7.1f}s  {args.ifname}: {packets} packets, "
                          f"{nbytes} bytes  ({rate:.0f} pkt/s)", flush=True)
                last_p, last_t = packets, now

            repeat_until(start, args.seconds, args.interval, tick)
            packets, nbytes, cpus = totals(stats)
    elapsed = time.monotonic() - start
    if args.json:
        print(json.dumps({"ifname": args.ifname, "ifindex": ifindex, "seconds": round(elapsed, 3),
                          "packets": packets, "bytes": nbytes, "cpus_seen": cpus}, indent=2))
    else:
        print(f"\n{args.ifname}: {packets} packets, {nbytes} bytes in {elapsed:.1f}s "
              f"(on {cpus} CPU{'s' if cpus != 1 else ''})")
    return 0


if __name__ == "__main__":
    run_main(main)
