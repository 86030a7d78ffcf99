"""Runs the native IP agent under the real reactor, or watches a LAN for announcements.

Run inside a lab host's namespace (`ip netns exec NS python -m tests.integration.vipdriver ...`):

    agent CASES               CASES is a JSON list of {"resource": haresources word,
                              "ops": [...], "ocf": {OCF_RESKEY_x: value}, "arp_count": n,
                              "arp_interval": ms}; each case's operations run in order under
                              the real reactor, one JSON line each: start, stop, status (the
                              agent's operation, timed); wait (until its announcements are all
                              sent); show (the `ip -o addr` lines holding the address); a list
                              is a command run there and then (the host changed meanwhile)
    capture IFACE SECONDS     one JSON line per ARP frame or ICMPv6 neighbour advertisement
                              received on IFACE, after a first line {"ready": true}

Times are `time.monotonic()` seconds, which every namespace shares, so a frame's arrival can be
set against the start call.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import subprocess
import sys
import time
from typing import Any

ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ICMPV6 = 58
NEIGHBOR_ADVERT = 136


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def _capture(interface: str, seconds: float) -> None:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((interface, 0))
    sock.settimeout(0.05)
    _emit({"ready": True})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            frame, (_, _, packet_type, _, _) = sock.recvfrom(2048)
        except TimeoutError:
            continue
        if packet_type == socket.PACKET_OUTGOING:
            continue
        record = _describe(frame)
        if record is not None:
            record["t"] = time.monotonic()
            _emit(record)


def _describe(frame: bytes) -> dict[str, Any] | None:
    kind = struct.unpack("!H", frame[12:14])[0]
    macs = {"dst_mac": frame[0:6].hex(":"), "src_mac": frame[6:12].hex(":")}
    if kind == ETH_P_ARP and len(frame) >= 42:
        return {
            "kind": "arp",
            **macs,
            "op": struct.unpack("!H", frame[20:22])[0],
            "sha": frame[22:28].hex(":"),
            "spa": socket.inet_ntoa(frame[28:32]),
            "tha": frame[32:38].hex(":"),
            "tpa": socket.inet_ntoa(frame[38:42]),
        }
    if kind == ETH_P_IPV6 and len(frame) >= 86 and frame[20] == ICMPV6 and frame[54] == NEIGHBOR_ADVERT:
        return {
            "kind": "na",
            **macs,
            "hop_limit": frame[21],
            "src": socket.inet_ntop(socket.AF_INET6, frame[22:38]),
            "dst": socket.inet_ntop(socket.AF_INET6, frame[38:54]),
            "flags": frame[58],
            "target": socket.inet_ntop(socket.AF_INET6, frame[62:78]),
            "option": frame[78:86].hex(),
        }
    return None


def _agent(cases: list[dict[str, Any]]) -> None:
    from twisted.internet import task

    task.react(_run_agent, [cases])


def _run_agent(reactor: Any, cases: list[dict[str, Any]]) -> Any:
    from twisted.internet.defer import Deferred

    return Deferred.fromCoroutine(_cases(reactor, cases))


async def _cases(reactor: Any, cases: list[dict[str, Any]]) -> None:
    for number, case in enumerate(cases):
        await _case(reactor, number, case)


async def _case(reactor: Any, number: int, case: dict[str, Any]) -> None:
    from twisted.internet import task

    from hbtwist.config.haresources import parse_resource
    from hbtwist.config.model import ResourcePolicy, ResourceSettings
    from hbtwist.resources.interface import AgentContext
    from hbtwist.resources.vip import NativeIpAgent, native_ip_agent

    policy = ResourcePolicy(
        arp_count=case.get("arp_count", 5), arp_interval_ms=case.get("arp_interval", 200)
    )
    context = AgentContext("/nonexistent", reactor, ResourceSettings(default=policy))
    environment = case.get("ocf", {})
    agent = native_ip_agent(
        parse_resource(case["resource"]), context, ocf_environment=lambda *_: environment
    )
    if not isinstance(agent, NativeIpAgent):
        _emit({"case": number, "op": "build", "native": False})
        return
    for operation in case["ops"]:
        if isinstance(operation, list):
            subprocess.run(operation, check=True)
            _emit({"case": number, "op": "run"})
        elif operation == "wait":
            while agent.announcing:
                await task.deferLater(reactor, 0.01, lambda: None)
            _emit({"case": number, "op": "wait"})
        elif operation == "show":
            shown = subprocess.run(
                ["ip", "-o", "addr", "show", "to", agent.spec.ip], capture_output=True, text=True
            )
            _emit({"case": number, "op": "show", "lines": shown.stdout.splitlines()})
        else:
            call = {"start": agent.start, "stop": agent.stop, "status": agent.status}[operation]
            called = time.monotonic()
            result = await call()
            _emit(
                {
                    "case": number,
                    "op": operation,
                    "called": called,
                    "elapsed_ms": (time.monotonic() - called) * 1000,
                    "outcome": str(result.outcome),
                    "operation": result.operation,
                    "duration_ms": result.duration_ms,
                    "detail": result.detail,
                }
            )


def main(argv: list[str]) -> None:
    """Parse the command line and run the agent or the capture."""
    parser = argparse.ArgumentParser(prog="vipdriver")
    commands = parser.add_subparsers(dest="command", required=True)
    agent = commands.add_parser("agent")
    agent.add_argument("cases", type=json.loads)
    capture = commands.add_parser("capture")
    capture.add_argument("interface")
    capture.add_argument("seconds", type=float)
    arguments = parser.parse_args(argv)
    if arguments.command == "capture":
        _capture(arguments.interface, arguments.seconds)
    else:
        _agent(arguments.cases)


if __name__ == "__main__":
    main(sys.argv[1:])
