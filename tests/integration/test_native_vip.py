"""The native virtual IP in a lab: what it adds is what the real agents add, and the LAN hears it.

Two hosts share LAN A: `node` (eth0 192.0.2.11) runs the agent under the real reactor
(`tests.integration.vipdriver`), `client` (192.0.2.12) watches with a raw socket. The real
`IPaddr`/`IPaddr2` agents run in `node` too, each in a private mount namespace with its own
`/run/resource-agents`, so their lock and pid files neither see nor leave anything on the machine.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.lab import Host, Lab
from tests.prereq import require

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
OCF_ROOT = Path("/usr/lib/ocf")
OCF_AGENTS = OCF_ROOT / "resource.d" / "heartbeat"
WRAPPERS = Path("/etc/ha.d/resource.d")
PRIVATE_RSCTMP = "mkdir -p /run/resource-agents && mount -t tmpfs tmpfs /run/resource-agents"


def require_agents() -> None:
    """The real agents are needed to compare with (Debian packages heartbeat, resource-agents)."""
    present = all(
        path.exists() for path in (OCF_AGENTS / "IPaddr2", WRAPPERS / "IPaddr2", WRAPPERS / "IPaddr")
    )
    require(present, "needs the IPaddr/IPaddr2 agents (Debian packages heartbeat, resource-agents)")


@pytest.fixture
def hosts(lab: Lab) -> tuple[Host, Host]:
    """`node` and `client`, both on LAN A."""
    require_agents()
    return lab.add_host("node", 1), lab.add_host("client", 2)


def native(host: Host, *cases: dict[str, Any]) -> list[dict[str, Any]]:
    """Run cases (see vipdriver) in `host` under the real reactor, with a private
    `/run/resource-agents`; their JSON lines."""
    command = ["env", f"PYTHONPATH={REPO}", PYTHON, "-m", "tests.integration.vipdriver"]
    script = f'{PRIVATE_RSCTMP} && exec "$@"'
    output = host.run(
        "unshare", "-m", "sh", "-c", script, "sh", *command, "agent", json.dumps(list(cases)), timeout=60
    )
    return [json.loads(line) for line in output.stdout.splitlines()]


def real(host: Host, command: list[str], ip: str, environment: dict[str, str]) -> dict[str, Any]:
    """Start the real agent in `host`, note its start time and the `ip -o addr` lines holding
    `ip`, stop it and note them again."""
    script = (
        f"{PRIVATE_RSCTMP} || exit 9\n"
        'begin=$(date +%s%N); "$@" start >/dev/null 2>&1; rc=$?; end=$(date +%s%N)\n'
        'echo "rc=$rc ns=$((end - begin))"\n'
        f'ip -o addr show to "{ip}"\n'
        '"$@" stop >/dev/null 2>&1\n'
        "echo stopped\n"
        f'ip -o addr show to "{ip}"\n'
    )
    variables = [f"{name}={value}" for name, value in environment.items()]
    output = host.run(
        "unshare", "-m", "env", f"OCF_ROOT={OCF_ROOT}", *variables, "sh", "-c", script, "sh", *command
    )
    first, *lines = output.stdout.splitlines()
    rc, ns = (int(word.split("=")[1]) for word in first.split())
    stopped = lines.index("stopped")
    return {"rc": rc, "start_ms": ns / 1e6, "lines": lines[:stopped], "after_stop": lines[stopped + 1 :]}


def address_words(lines: list[str]) -> list[list[str]]:
    """`ip -o addr` lines without the index and the lifetimes: family, address, brd, scope, label."""
    return [line.split("\\")[0].split()[1:] for line in lines]


def one(records: list[dict[str, Any]], case: int, op: str) -> list[dict[str, Any]]:
    """The driver's records of one operation of one case, in order."""
    return [record for record in records if record.get("case") == case and record["op"] == op]


CASES: list[tuple[str, dict[str, str], list[str]]] = [
    ("IPaddr2::192.0.2.100", {}, [str(WRAPPERS / "IPaddr2"), "192.0.2.100"]),
    ("IPaddr2::192.0.2.101/25/eth0:vip", {}, [str(WRAPPERS / "IPaddr2"), "192.0.2.101/25/eth0:vip"]),
    (
        "IPaddr2::192.0.2.102/24/eth0/192.0.2.127",
        {},
        [str(WRAPPERS / "IPaddr2"), "192.0.2.102/24/eth0/192.0.2.127"],
    ),
    ("192.0.2.103", {}, [str(WRAPPERS / "IPaddr"), "192.0.2.103"]),
    ("IPaddr::198.51.100.104/26/eth1", {}, [str(WRAPPERS / "IPaddr"), "198.51.100.104/26/eth1"]),
    (
        "OCF::IPaddr2::web",
        {
            "OCF_RESKEY_ip": "198.51.100.105",
            "OCF_RESKEY_cidr_netmask": "27",
            "OCF_RESKEY_nic": "eth1",
            "OCF_RESKEY_iflabel": "web",
            "OCF_RESKEY_broadcast": "+",
        },
        [str(OCF_AGENTS / "IPaddr2")],
    ),
    (
        "OCF::IPaddr2::db",
        {
            "OCF_RESKEY_ip": "192.0.2.106",
            "OCF_RESKEY_cidr_netmask": "255.255.255.192",
            "OCF_RESKEY_broadcast": "-",
        },
        [str(OCF_AGENTS / "IPaddr2")],
    ),
]


def test_native_adds_what_the_real_agents_add(hosts: tuple[Host, Host]) -> None:
    """Address, prefix, broadcast and label match IPaddr/IPaddr2's for the same parameters; stop
    removes the address and status follows."""
    node, _ = hosts
    expected = []
    for word, environment, command in CASES:
        ip = environment.get("OCF_RESKEY_ip", word.split("::")[-1].split("/")[0])
        outcome = real(node, command, ip, environment)
        assert outcome["rc"] == 0, (word, outcome)
        expected.append(address_words(outcome["lines"]))
    cases = [
        {
            "resource": word,
            "ocf": environment,
            "arp_count": 1,
            "ops": ["start", "show", "status", "stop", "show", "status"],
        }
        for word, environment, _ in CASES
    ]
    records = native(node, *cases)
    for number, (word, _, _) in enumerate(CASES):
        assert [record["outcome"] for record in one(records, number, "start")] == ["ok"], (word, records)
        shown = one(records, number, "show")
        assert address_words(shown[0]["lines"]) == expected[number], word
        assert shown[1]["lines"] == [], word
        statuses = one(records, number, "status")
        assert [(record["operation"], record["outcome"]) for record in statuses] == [
            ("monitor", "ok"),
            ("monitor", "not running"),
        ]
        assert [record["outcome"] for record in one(records, number, "stop")] == ["ok"]


def test_lvs_loopback_copy_is_moved_away_and_back_as_ipaddr2_does(hosts: tuple[Host, Host]) -> None:
    """A /32 copy of the address on lo (an LVS real server) leaves while the address runs and
    comes back at stop, for IPaddr2's wrapper and the native agent alike."""
    node, _ = hosts
    node.run("ip", "addr", "add", "192.0.2.107/32", "dev", "lo")
    expected = real(node, [str(WRAPPERS / "IPaddr2"), "192.0.2.107/24/eth0"], "192.0.2.107", {})
    assert expected["rc"] == 0, expected
    case = {
        "resource": "IPaddr2::192.0.2.107/24/eth0",
        "arp_count": 1,
        "ops": ["start", "show", "stop", "show"],
    }
    records = native(node, case)
    shown = one(records, 0, "show")
    assert address_words(shown[0]["lines"]) == address_words(expected["lines"])
    assert address_words(shown[1]["lines"]) == address_words(expected["after_stop"])
    assert [words[0] for words in address_words(shown[1]["lines"])] == ["lo"]


def test_a_host_changed_after_the_agent_was_made_is_read_again(hosts: tuple[Host, Host]) -> None:
    """The agent is prepared when it is made; a narrower route added afterwards still gives
    the prefix findif finds at start, as IPaddr2 with that route in place."""
    node, _ = hosts
    route = ["ip", "route", "add", "192.0.2.64/26", "dev", "eth0"]
    case = {"resource": "IPaddr2::192.0.2.70", "arp_count": 1, "ops": [route, "start", "show", "stop"]}
    records = native(node, case)
    assert [record["outcome"] for record in one(records, 0, "start")] == ["ok"], records
    expected = real(node, [str(WRAPPERS / "IPaddr2"), "192.0.2.70"], "192.0.2.70", {})
    assert expected["rc"] == 0, expected
    shown = address_words(one(records, 0, "show")[0]["lines"])
    assert shown == address_words(expected["lines"])
    assert "192.0.2.70/26" in shown[0]


def start_capture(lab: Lab, host: Host, seconds: float) -> Path:
    """A raw-socket capture on `host`'s eth0 for `seconds`; its output file, once it listens."""
    output = lab.host_dir(host) / f"capture-{time.monotonic_ns()}.json"
    command = ["env", f"PYTHONPATH={REPO}", PYTHON, "-m", "tests.integration.vipdriver"]
    lab.spawn(host, [*command, "capture", "eth0", str(seconds)], stdout=output)
    deadline = time.monotonic() + 15
    while '"ready"' not in (output.read_text() if output.exists() else ""):
        assert time.monotonic() < deadline, "the capture did not start"
        time.sleep(0.02)
    return output


def captured(
    output: Path, seconds: float, until: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The frames of a capture, once `until` holds of them (or `seconds` have passed)."""
    deadline = time.monotonic() + seconds
    while True:
        frames = [json.loads(line) for line in output.read_text().splitlines()[1:]]
        if until(frames) or time.monotonic() > deadline:
            return frames
        time.sleep(0.05)


def mac_of(host: Host) -> str:
    """The MAC address of `host`'s eth0."""
    words = host.run("ip", "-o", "link", "show", "eth0").stdout.split()
    return words[words.index("link/ether") + 1]


def test_client_hears_the_gratuitous_arp_at_once_and_updates_its_cache(
    lab: Lab, hosts: tuple[Host, Host]
) -> None:
    """The first ARP pair reaches the client while start runs, the rest arp_interval apart; a stale
    client neighbour entry now points at the node; a stop ends the announcements."""
    node, client = hosts
    vip, node_mac = "192.0.2.50", mac_of(node)
    client.run(
        "ip", "neigh", "replace", vip, "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale"
    )
    capture = start_capture(lab, client, 20)
    case = {"resource": f"IPaddr2::{vip}/24/eth0", "arp_count": 3, "arp_interval": 100}
    records = native(node, {**case, "ops": ["start", "wait", "status", "stop", "start", "stop"]})
    frames = captured(capture, 5, lambda seen: len(seen) >= 8)
    starts = one(records, 0, "start")
    assert [record["outcome"] for record in starts] == ["ok", "ok"], records
    arp = [frame for frame in frames if frame["kind"] == "arp" and frame["spa"] == vip]
    assert [frame["op"] for frame in arp] == [1, 2] * 4
    for frame in arp:
        assert (frame["dst_mac"], frame["src_mac"], frame["sha"], frame["tpa"]) == (
            "ff:ff:ff:ff:ff:ff",
            node_mac,
            node_mac,
            vip,
        )
        assert frame["tha"] == ("00:00:00:00:00:00" if frame["op"] == 1 else node_mac)
    first = starts[0]
    assert arp[0]["t"] - first["called"] <= first["elapsed_ms"] / 1000 + 0.05
    requests = arp[0:6:2]
    gaps = [later["t"] - earlier["t"] for earlier, later in zip(requests, requests[1:], strict=False)]
    assert all(0.07 <= gap <= 0.4 for gap in gaps), gaps
    assert arp[6]["t"] - starts[1]["called"] <= starts[1]["elapsed_ms"] / 1000 + 0.05
    neighbour = client.run("ip", "neigh", "show", vip, "dev", "eth0").stdout
    assert f"lladdr {node_mac}" in neighbour


def test_native_start_is_faster_than_ipaddr2(
    hosts: tuple[Host, Host], report: Callable[[str], None]
) -> None:
    """Native start (netlink add + first announcement) against IPaddr2's start, same address."""
    node, _ = hosts
    agent = [str(WRAPPERS / "IPaddr2"), "192.0.2.60/24/eth0"]
    agent_ms = [real(node, agent, "192.0.2.60", {})["start_ms"] for _ in range(5)]
    ops = ["start", "stop"] * 6
    records = native(node, {"resource": "IPaddr2::192.0.2.60/24/eth0", "arp_count": 1, "ops": ops})
    starts = [record["elapsed_ms"] for record in one(records, 0, "start")]
    assert all(record["outcome"] == "ok" for record in one(records, 0, "start")), records
    cold, warm = starts[0], statistics.median(starts[1:])
    report(
        f"native start {warm:.1f} ms (median of 5; first, opening netlink: {cold:.1f} ms), "
        f"IPaddr2 start {statistics.median(agent_ms):.1f} ms (median of 5)"
    )
    assert warm < statistics.median(agent_ms)


def test_ipv6_address_is_added_as_ipaddr2_adds_it_and_advertised(
    lab: Lab, hosts: tuple[Host, Host]
) -> None:
    """IPv6: same address line as IPaddr2; after DAD an unsolicited NA (override, our MAC, hop
    limit 255) from the address to ff02::1 reaches the client."""
    node, client = hosts
    node.run("ip", "addr", "add", "2001:db8::11/64", "dev", "eth0", "nodad")
    client.run("ip", "addr", "add", "2001:db8::12/64", "dev", "eth0", "nodad")
    vip, node_mac = "2001:db8::50", mac_of(node)
    environment = {
        "OCF_RESKEY_ip": vip,
        "OCF_RESKEY_cidr_netmask": "64",
        "OCF_RESKEY_nic": "eth0",
        "OCF_RESKEY_arp_count": "2",
        "OCF_RESKEY_arp_interval": "100",
    }
    expected = real(node, [str(OCF_AGENTS / "IPaddr2")], vip, environment)
    assert expected["rc"] == 0, expected
    capture = start_capture(lab, client, 20)
    case = {
        "resource": "OCF::IPaddr2::v6",
        "ocf": environment,
        "ops": ["start", "show", "wait", "stop", "status"],
    }
    records = native(node, case)
    frames = captured(capture, 5, lambda seen: len([f for f in seen if f["kind"] == "na"]) >= 2)
    start = one(records, 0, "start")[0]
    assert start["outcome"] == "ok", records
    assert address_words(one(records, 0, "show")[0]["lines"]) == address_words(expected["lines"])
    advertisements = [frame for frame in frames if frame["kind"] == "na" and frame["target"] == vip]
    assert len(advertisements) == 2
    for frame in advertisements:
        assert (frame["src"], frame["dst"], frame["hop_limit"], frame["flags"]) == (
            vip,
            "ff02::1",
            255,
            0x20,
        )
        assert (frame["src_mac"], frame["option"]) == (node_mac, "0201" + node_mac.replace(":", ""))
    assert advertisements[0]["t"] - start["called"] <= start["elapsed_ms"] / 1000 + 0.05
    assert one(records, 0, "status")[0]["outcome"] == "not running"
