#!/usr/bin/python3
"""Runs the raw transfers of a cascade-sim scenario in SimGrid (ideal max-min) and prints each
transfer's finish time; optionally compares them with cascade-sim's results.json.

    cascade-sim bench --workload shared-upload-10k --emit-scenario > su10k.json
    cascade-sim run su10k.json --out out/su10k
    /usr/bin/python3 benches/simgrid/raw_transfers.py su10k.json --compare out/su10k/results.json

The platform is built to match cascade-sim's model: every host gets an upload link and a
download link (its `upload_mbps` / `download_mbps`), every explicit link one link per direction,
and a transfer crosses the sender's upload, the links of the shortest path (latency, then hops),
and the receiver's download. SimGrid runs CM02 without cross-traffic: plain max-min sharing.
Supported: `network.hosts`, `network.routers`, `network.links` and `transfers` (no groups, no
jobs); latencies must be zero (SimGrid charges latency before a transfer, cascade-sim after).
"""

import argparse
import json
import sys
import time

import simgrid


def mbps(x):
    """Megabits per second to bytes per second."""
    return x * 1e6 / 8.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", help="scenario JSON with raw transfers")
    parser.add_argument("--compare", metavar="RESULTS", help="cascade-sim results.json of the same scenario")
    parser.add_argument("--quiet", action="store_true", help="do not print every finish time")
    args = parser.parse_args()

    with open(args.scenario) as f:
        scenario = json.load(f)
    net = scenario["network"]
    if net.get("groups") or scenario.get("clients"):
        sys.exit("only network.hosts, routers, links and transfers are supported")
    hosts = [h["name"] for h in net.get("hosts", [])]
    if any(h.get("latency_ms", 0) for h in net.get("hosts", [])) or any(
        l.get("latency_ms", 0) for l in net.get("links", [])
    ):
        sys.exit("latencies must be zero")

    start = time.perf_counter()
    engine = simgrid.Engine(["raw_transfers", "--cfg=network/model:CM02", "--cfg=network/crosstraffic:0"])
    zone = simgrid.NetZone.create_full_zone("world")
    host = {}
    up, down = {}, {}
    for h in net.get("hosts", []):
        host[h["name"]] = zone.create_host(h["name"], 1e9)
        up[h["name"]] = zone.create_link("up-" + h["name"], mbps(h["upload_mbps"])).seal()
        down[h["name"]] = zone.create_link("down-" + h["name"], mbps(h["download_mbps"])).seal()

    # The explicit graph: one SimGrid link per direction of each link.
    adjacency = {}
    for i, l in enumerate(net.get("links", [])):
        forward = zone.create_link("link%d-ab" % i, mbps(l["capacity_mbps"])).seal()
        backward = zone.create_link("link%d-ba" % i, mbps(l["capacity_mbps"])).seal()
        adjacency.setdefault(l["a"], []).append((l["b"], forward))
        adjacency.setdefault(l["b"], []).append((l["a"], backward))

    trees = {}

    def path(a, b):
        """Links of the fewest-hop path from a to b (all latencies are zero); one breadth-first
        search per source."""
        if not adjacency:
            return []
        if a not in trees:
            tree = {a: (None, None)}
            frontier = [a]
            while frontier:
                following = []
                for node in frontier:
                    for nxt, link in adjacency.get(node, []):
                        if nxt not in tree:
                            tree[nxt] = (node, link)
                            following.append(nxt)
                frontier = following
            trees[a] = tree
        tree = trees[a]
        links = []
        node = b
        while node != a:
            node, link = tree[node]
            links.append(link)
        return list(reversed(links))

    transfers = scenario["transfers"]
    routed = set()
    for t in transfers:
        key = (t["from"], t["to"])
        if key in routed:
            continue
        routed.add(key)
        links = [up[t["from"]]] + path(t["from"], t["to"]) + [down[t["to"]]]
        zone.add_route(
            host[t["from"]].netpoint, host[t["to"]].netpoint, None, None, [simgrid.LinkInRoute(l) for l in links], False
        )
    zone.seal()
    built = time.perf_counter()

    comms = [None] * len(transfers)

    def sender():
        order = sorted(range(len(transfers)), key=lambda i: transfers[i]["at_s"])
        for i in order:
            t = transfers[i]
            if t["at_s"] > simgrid.Engine.clock:
                simgrid.this_actor.sleep_until(t["at_s"])
            size = int(round(t["size_mb"] * 1e6))
            comms[i] = simgrid.Comm.sendto_async(host[t["from"]], host[t["to"]], size)
        simgrid.Comm.wait_all(comms)

    simgrid.Actor.create("sender", host[transfers[0]["from"]], sender)
    engine.run()
    finish = [c.finish_time for c in comms]
    end = time.perf_counter()

    if not args.quiet:
        for i, t in enumerate(finish):
            print("%d,%.9f" % (i, t))
    print(
        "simgrid %s: %d transfers, build %.3f s, simulate %.3f s wall, last finish %.9f s"
        % (simgrid.simgrid_version, len(transfers), built - start, end - built, max(finish)),
        file=sys.stderr,
    )

    if args.compare:
        with open(args.compare) as f:
            ours = [t["finish_at_s"] for t in json.load(f)["transfers"]]
        diffs = [abs(a - b) * 1e9 for a, b in zip(finish, ours)]
        worst = max(range(len(diffs)), key=lambda i: diffs[i])
        within = sum(d <= 1.0 for d in diffs)
        print(
            "compared with %s: max |difference| %.3f ns (transfer %d: simgrid %.9f, cascade-sim %.9f); "
            "%d of %d within 1 ns"
            % (args.compare, diffs[worst], worst, finish[worst], ours[worst], within, len(diffs)),
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
