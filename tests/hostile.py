"""Correctly signed hostile messages, and a real node to feed them to without sockets.

The generator makes Heartbeat messages of every type of the spec (and unknown types) whose
fields are hostile: malformed and extreme numbers, sequence and generation jumps, long, unknown
and look-alike names, missing fields, binary, list or nested values where text is expected,
compressed wrappers. Each is signed with the cluster key, so it passes authentication and
reaches the core. `hostile_batches()` is the hypothesis strategy and `HostileGenerator` the
plain random generator; both drive one `Builder` through a `Picker`.

`NodeHarness` is a real `NodeService` built from a configuration directory, on a fake reactor
(a task.Clock that checks delays and logs failing timed calls as a reactor does) with a fake
medium plugin that captures the daemon's `deliver` callable and records what the node sends.
`probe()` and `membership()` are the only places that look inside the node.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st
from twisted.internet import task
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import ILogObserver, Logger, LogLevel, globalLogPublisher
from zope.interface import implementer

from hbtwist.config import MEDIUM_PARSERS, ClusterConfig, load_config
from hbtwist.core.fields import parse_hex
from hbtwist.core.stamp import Identity
from hbtwist.daemon.node import NodeService
from hbtwist.media.interface import IMediumLink, IMediumType, MediumContext, Outgoing
from hbtwist.wire import (
    AuthKey,
    AuthMethod,
    EncodeError,
    Field,
    FieldType,
    Keyring,
    Message,
    encode_datagram,
    encode_frame,
)
from hbtwist.wire.compress import wrap
from hbtwist.wire.netstring import encode_netstring

T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# The cluster under attack

LOCAL = "alpha"
MEMBERS = ("bravo", "kilo")
"""The other members; `kilo` has a `k`, which the Kelvin sign K (U+212A) lower-cases to."""

HA_CF = f"""\
keepalive 100ms
deadtime 1
warntime 500ms
initdead 2
udpport 17694
ucast lo 127.0.0.1
node {LOCAL} {" ".join(MEMBERS)}
"""
CLUSTER_KEY = b"hostile-cluster-key"
AUTHKEYS = f"auth 1\n1 sha1 {CLUSTER_KEY.decode()}\n"
KEYRING = Keyring(1, {1: AuthKey(1, AuthMethod.SHA1, CLUSTER_KEY)})
"""The keyring of AUTHKEYS: what a key holder signs with."""
KEEPALIVE = 0.1
LOCAL_UUID = b"alpha-uuid-00001"
LOCAL_GENERATION = 7
START_TIME = 1_700_000_000.0
HONEST_GENERATION = 0x500
ROLES = ("member", "member", "member", "stranger", "stranger", "self")
"""Whose names hostile messages carry, weighted: half members, a third strangers."""
LARGEST = 2**64 - 1
"""The largest number a 16-digit hex field holds."""


def write_cluster(directory: Path) -> Path:
    """Write the three-node configuration (ha.cf, authkeys mode 0600) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ha.cf").write_text(HA_CF)
    keys = directory / "authkeys"
    keys.write_text(AUTHKEYS)
    keys.chmod(0o600)
    return directory


def load_cluster(directory: Path) -> ClusterConfig:
    """The configuration of `directory` as node `alpha` sees it."""
    return load_config(directory, local_node=LOCAL)


# --------------------------------------------------------------------------------------------
# Hostile values

MALFORMED_NUMBERS = ("²", "-5", "0x10", " 1_0 ", "٣", "+1", "1e3", "", " ", "ff ff", "nan", "-0")
EXTREME_NUMBERS = (
    "0",
    "1",
    "7fffffff",
    "80000000",
    "ffffffff",
    "2147483648",
    "4294967295",
    "99999999",
    "9999999999",
    "0" * 40,
    "9" * 40,
    "f" * 40,
)
SATURATING = "ffffffffffffffff"
"""The largest sequence or generation number: once a node takes it from a member, it ignores
that member until it restarts (as Heartbeat does), so soaks send it rarely."""
STRANGERS = (
    "mallory",
    "x" * 200,
    "alpha ",
    " bravo",
    "bravo\n",
    "\u212aILO",
    "ålpha",
    "é" * 60,
    "\udcff\udcfe",
    "<<<",
    "%%%",
    "*",
)
"""Names that are not members (Heartbeat compares names as ASCII, case aside)."""
STATUSES = ("init", "up", "active", "dead", "ping", "ACTIVE", "", "x" * 300, "\udcb2", "active\n")
HOLDINGS = ("none", "local", "foreign", "all", "failback", "transition", "", "x" * 100)
INFOS = ("me", "other", "done", "ping", "seqno too low", "req_our_resources()", "", "y" * 300)
WORDS = ("OK", "yes", "no", "full", "1", "0", "192.0.2.10", "", "z" * 500, "\udc80")
UNKNOWN_TYPES = ("", "NS_", "NS_bogus", "STATUS", "status ", "ns_rexmit", "Üñï", "t" * 300, "\udcff")
KNOWN_TYPES = (
    "status",
    "NS_rexmit",
    "NS_nak_rexmit",
    "NS_ackmsg",
    "reqnodes",
    "repnodes",
    "NS_st",
    "shutdone",
    "starting",
    "resource",
    "ask_resources",
    "hb_takeover",
    "ip-request",
    "ip-request-resp",
    "stonith",
    "addnode",
    "delnode",
    "setweight",
    "setsite",
    "hbapi-clstat",
    "query-cstatus",
    "respond-cstatus",
)

TYPE_FIELDS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "status": (("st", "status"), ("dt", "hex"), ("protocol", "word"), ("hbtwist", "word")),
    "NS_rexmit": (("dest", "dest"), ("firstseq", "decimal"), ("lastseq", "decimal")),
    "NS_nak_rexmit": (("firstseq", "hex"), ("dest", "dest"), ("info", "info")),
    "NS_ackmsg": (("dest", "dest"), ("ackseq", "hex")),
    "reqnodes": (("dest", "dest"),),
    "repnodes": (("dest", "dest"), ("nodelist", "nodelist"), ("delnodelist", "nodelist")),
    "NS_st": (("st", "status"), ("info", "info")),
    "shutdone": (("st", "status"),),
    "resource": (("rsc_hold", "hold"), ("rtype", "word"), ("isstable", "word"), ("info", "info")),
    "ask_resources": (("rsc_hold", "hold"), ("info", "info")),
    "hb_takeover": (("rsc_hold", "hold"),),
    "ip-request": (("ipaddr", "word"),),
    "ip-request-resp": (("dest", "dest"), ("ipaddr", "word"), ("weown", "word"), ("ok", "word")),
    "stonith": (("node", "name"), ("result", "word")),
    "addnode": (("nodelist", "nodelist"),),
    "delnode": (("nodelist", "nodelist"),),
    "setweight": (("node", "name"), ("weight", "decimal")),
    "setsite": (("node", "name"), ("site", "word")),
    "hbapi-clstat": (("st", "word"), ("from_id", "word"), ("to_id", "word"), ("client_gen", "decimal")),
    "query-cstatus": (("dest", "dest"), ("cn", "word"), ("from_id", "word")),
    "respond-cstatus": (("dest", "dest"), ("result", "word"), ("cn", "word"), ("cs", "word")),
}
"""The type-specific fields of each message type (spec section 3), in the sender's order."""


# --------------------------------------------------------------------------------------------
# Pickers: one generator, driven by hypothesis or by random.Random


class Picker(Protocol):
    """Where the builder's choices come from."""

    def choice(self, options: Sequence[T]) -> T:
        """One of `options` (hypothesis shrinks towards the first)."""

    def chance(self, percent: float) -> bool:
        """True about `percent` times in a hundred (hypothesis shrinks towards False)."""

    def number(self, low: int, high: int) -> int:
        """An integer in low..high."""

    def blob(self, max_size: int) -> bytes:
        """Arbitrary bytes, at most `max_size`."""


class RandomPicker:
    """Choices from a seeded random.Random, for soaks."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def choice(self, options: Sequence[T]) -> T:
        return options[self._rng.randrange(len(options))]

    def chance(self, percent: float) -> bool:
        return self._rng.random() * 100 < percent

    def number(self, low: int, high: int) -> int:
        return self._rng.randint(low, high)

    def blob(self, max_size: int) -> bytes:
        return self._rng.randbytes(self._rng.randrange(max_size + 1))


class DrawPicker:
    """Choices drawn from hypothesis strategies, so failures shrink."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self._draw = draw

    def choice(self, options: Sequence[T]) -> T:
        return self._draw(st.sampled_from(options))

    def chance(self, percent: float) -> bool:
        return bool(self._draw(st.integers(0, 9999)) >= 10000 - percent * 100)

    def number(self, low: int, high: int) -> int:
        return int(self._draw(st.integers(low, high)))

    def blob(self, max_size: int) -> bytes:
        return bytes(self._draw(st.binary(max_size=max_size)))


# --------------------------------------------------------------------------------------------
# The builder


@dataclass(frozen=True)
class Hostile:
    """One hostile message, who it claims to come from, and its signed datagram."""

    role: str
    """"member" (a remote member's name), "self" (the attacked node's name) or "stranger"."""
    message: Message
    datagram: bytes


@dataclass
class SenderState:
    """What a key holder posing as one member last sent, so that most numbers look plausible."""

    uuid: bytes
    seq: int = 0
    generation: int = HONEST_GENERATION


class Builder:
    """Builds signed hostile messages; `roles` picks whose names they carry."""

    def __init__(
        self, pick: Picker, keyring: Keyring, roles: Sequence[str] = ROLES, saturation: float = 1.0
    ) -> None:
        self.pick = pick
        self.keyring = keyring
        self.roles = tuple(roles)
        self.saturation = saturation
        """Percent of sequence and generation numbers that are the largest possible."""
        self.senders = {name: SenderState(name.encode().ljust(16, b"-")) for name in MEMBERS}
        self.senders[LOCAL] = SenderState(LOCAL_UUID, generation=LOCAL_GENERATION)
        self.clock = START_TIME

    def hostile(self) -> Hostile:
        """One message of a random type with hostile fields, signed."""
        pick = self.pick
        role = pick.choice(self.roles)
        name = {"member": pick.choice(MEMBERS), "self": LOCAL, "stranger": pick.choice(STRANGERS)}[role]
        kind = pick.choice(KNOWN_TYPES) if pick.chance(85) else pick.choice(UNKNOWN_TYPES)
        fields = [Field(b"t", FieldType.STRING, _text(kind))]
        for field_name, value_kind in TYPE_FIELDS.get(kind, ()):
            if not pick.chance(10):
                fields.append(Field(field_name.encode(), FieldType.STRING, self._value(value_kind)))
        fields += self._controls(name, kind)
        message = self._mutate(Message(fields))
        if name in self.senders:
            self._follow(self.senders[name], message)
        return Hostile(role, message, self._sign(message))

    def _follow(self, state: SenderState, message: Message) -> None:
        """Carry on from the highest sequence and generation numbers sent, as the node may
        have taken them, so that later messages still reach deep into the core."""
        seq, generation = parse_hex(message.text("seq")), parse_hex(message.text("hg"))
        state.seq = max(state.seq, seq or 0)
        state.generation = max(state.generation, generation or 0)

    def _value(self, kind: str) -> bytes:
        pick = self.pick
        if kind == "hex":
            return _text(self._number(f"{pick.number(1, 0x20000):x}"))
        if kind == "decimal":
            return _text(self._number(str(pick.number(1, 3000))))
        if kind == "dest":
            return _text(pick.choice((LOCAL, LOCAL.upper(), *MEMBERS, *STRANGERS)))
        if kind == "name":
            return _text(pick.choice((LOCAL, *MEMBERS, *STRANGERS)))
        if kind == "nodelist":
            names = [pick.choice((LOCAL, *MEMBERS, *STRANGERS)) for _ in range(pick.number(0, 4))]
            return _text("".join(f"{name} " for name in names) or " ")
        table = {"status": STATUSES, "hold": HOLDINGS, "info": INFOS, "word": WORDS}[kind]
        return _text(pick.choice(table))

    def _number(self, plausible: str, saturation: float = 0.0) -> str:
        """Mostly `plausible`; sometimes malformed, sometimes extreme."""
        pick = self.pick
        if pick.chance(saturation):
            return SATURATING
        if pick.chance(6):
            return pick.choice(MALFORMED_NUMBERS)
        if pick.chance(6):
            return pick.choice(EXTREME_NUMBERS)
        return plausible

    def _controls(self, name: str, kind: str) -> list[Field]:
        pick = self.pick
        state = self.senders.get(name) or SenderState(pick.blob(16))
        self.clock += pick.number(0, 3)
        fields = [Field(b"src", FieldType.STRING, _text(name))]
        if not pick.chance(20):
            fields.append(Field(b"srcuuid", FieldType.BINARY, self._uuid(state)))
        if not kind.startswith("NS_") or pick.chance(10):
            fields.append(Field(b"seq", FieldType.STRING, _text(self._seq(state))))
        fields.append(Field(b"hg", FieldType.STRING, _text(self._generation(state))))
        fields.append(Field(b"ts", FieldType.STRING, _text(self._number(f"{int(self.clock):x}"))))
        fields.append(Field(b"ld", FieldType.STRING, b"0.00 0.01 0.05 1/99 1234"))
        fields.append(Field(b"ttl", FieldType.STRING, _text(self._number("4"))))
        return fields

    def _uuid(self, state: SenderState) -> bytes:
        pick = self.pick
        if not pick.chance(15):
            return state.uuid
        others = [sender.uuid for sender in self.senders.values()]
        return pick.choice((b"", pick.blob(64), b"\0" * 16, b"u" * pick.number(17, 60000), *others))

    def _seq(self, state: SenderState) -> str:
        """Mostly the next number; sometimes a duplicate, a gap, a step back or a far jump."""
        pick = self.pick
        if state.seq > 2**40 and pick.chance(20):
            state.seq, state.generation = 0, min(state.generation + 1, LARGEST)
        step = pick.choice((1, 1, 1, 1, 1, 1, 0, 2, 3, 10, 250, 251, -1, -5, -300))
        if pick.chance(1):
            step = pick.choice((1000, 2**31, 2**32))
        state.seq = min(max(1, state.seq + step), LARGEST)
        return self._number(f"{state.seq:x}", self.saturation)

    def _generation(self, state: SenderState) -> str:
        """Mostly the sender's generation; sometimes a restart, sometimes one replayed from before."""
        pick = self.pick
        if pick.chance(2):
            state.generation = min(state.generation + 1, LARGEST)
        offset = -1 if pick.chance(3) else 0
        return self._number(f"{max(0, state.generation + offset):x}", self.saturation)

    def _mutate(self, message: Message) -> Message:
        pick = self.pick
        fields = list(message.fields)
        if pick.chance(10):
            del fields[pick.number(0, len(fields) - 1)]
        if fields and pick.chance(10):
            victim = pick.number(0, len(fields) - 1)
            fields[victim] = Field(fields[victim].name, *self._odd_value(fields[victim]))
        if fields and pick.chance(5):
            twin = fields[pick.number(0, len(fields) - 1)]
            fields.insert(0, Field(twin.name, FieldType.STRING, _text(pick.choice(MALFORMED_NUMBERS))))
        if pick.chance(10):
            fields.append(Field(b"n" * pick.number(1, 1000), FieldType.BINARY, pick.blob(200)))
        if pick.chance(5):
            fields.append(Field(b"nested", FieldType.STRUCT, self._nested(pick.number(1, 15))))
        mutated = Message(fields)
        if pick.chance(3):
            return wrap(encode_netstring(mutated), pick.choice(("zlib", "bz2")))
        return mutated

    def _odd_value(self, victim: Field) -> tuple[FieldType, Any]:
        """The same name with a value of the wrong kind: binary, a list or a nested message."""
        pick = self.pick
        raw, kind = (
            (victim.value, victim.type) if isinstance(victim.value, bytes) else (b"x", FieldType.STRING)
        )
        return pick.choice(
            (
                (FieldType.BINARY, raw),
                (FieldType.BINARY, pick.blob(32)),
                (FieldType.LIST, (raw[:100], raw[:100])),
                (FieldType.STRUCT, Message([Field(victim.name, kind, raw)])),
            )
        )

    def _nested(self, depth: int) -> Message:
        inner = Message(
            [Field(b"t", FieldType.STRING, b"status"), Field(b"seq", FieldType.STRING, b"1")]
        )
        for _ in range(depth - 1):
            inner = Message([Field(b"child", FieldType.STRUCT, inner)])
        return inner

    def _sign(self, message: Message) -> bytes:
        if self.pick.chance(10):
            try:
                return encode_frame(message, self.keyring)
            except EncodeError:
                pass
        return encode_datagram(message, self.keyring)


def _text(value: str) -> bytes:
    """A field value as sent: UTF-8, with surrogate escapes standing for undecodable bytes."""
    return value.encode("utf-8", "surrogateescape")


def crafted(
    keyring: Keyring,
    kind: str,
    *pairs: tuple[str, str | bytes],
    src: str = MEMBERS[0],
    seq: int | None = None,
    generation: int = HONEST_GENERATION,
    uuid: bytes | None = None,
    compressed: bool = False,
) -> Hostile:
    """One signed message built field by field, for reproducing a finding exactly.

    `pairs` follow `t`; then come Heartbeat's control fields (`seq` only when given). A str
    value is a STRING field, a bytes value a BINARY one. `compressed` wraps it in zlib.
    """
    fields = [Field(b"t", FieldType.STRING, _text(kind))]
    controls: list[tuple[str, str | bytes]] = [
        ("src", src),
        ("srcuuid", uuid or src.encode().ljust(16, b"-")),
    ]
    if seq is not None:
        controls.append(("seq", f"{seq:x}"))
    controls += [("hg", f"{generation:x}"), ("ts", f"{int(START_TIME):x}"), ("ttl", "4")]
    for name, value in (*pairs, *controls):
        if isinstance(value, bytes):
            fields.append(Field(name.encode(), FieldType.BINARY, value))
        else:
            fields.append(Field(name.encode(), FieldType.STRING, _text(value)))
    message = Message(fields)
    if compressed:
        message = wrap(encode_netstring(message), "zlib")
    role = "member" if src in MEMBERS else "self" if src == LOCAL else "stranger"
    return Hostile(role, message, encode_datagram(message, keyring))


@st.composite
def hostile_batches(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    keyring: Keyring,
    roles: Sequence[str] = ROLES,
    max_size: int = 40,
) -> list[Hostile]:
    """A hypothesis strategy: a list of hostile messages in the order one attacker sends them."""
    builder = Builder(DrawPicker(draw), keyring, roles)
    return [builder.hostile() for _ in range(draw(st.integers(1, max_size)))]


class HostileGenerator:
    """Endless hostile messages from a seeded random.Random, for soaks."""

    def __init__(
        self, keyring: Keyring, seed: int = 0, roles: Sequence[str] = ROLES, saturation: float = 0.01
    ) -> None:
        self._builder = Builder(RandomPicker(random.Random(seed)), keyring, roles, saturation)

    def __iter__(self) -> Iterator[Hostile]:
        while True:
            yield self._builder.hostile()


# --------------------------------------------------------------------------------------------
# The node under attack

_log = Logger()


class FakeReactor(task.Clock):
    """task.Clock that refuses negative delays and logs failing timed calls, as reactors do."""

    def callLater(  # noqa: N802
        self, delay: float, callable: Callable[..., object], *args: object, **kw: object
    ) -> IDelayedCall:
        assert sys.maxsize >= delay >= 0, f"{delay} is not greater than or equal to 0 seconds"
        return super().callLater(delay, callable, *args, **kw)

    def advance(self, amount: float) -> None:
        """Move time on, running due calls in time order; a call that raises is logged."""
        self.rightNow += amount
        self._sortCalls()
        while self.calls and self.calls[0].getTime() <= self.seconds():
            call = self.calls.pop(0)
            call.called = 1
            try:
                call.func(*call.args, **call.kw)
            except Exception:
                _log.failure("while handling timed call")
            self._sortCalls()


@implementer(IMediumLink)
class FakeLink:
    """An open medium that records what the node sends and hands it datagrams to receive."""

    def __init__(self, medium: Any, context: MediumContext) -> None:
        self.medium = medium
        self.name = medium.name
        self.context = context
        self.send_failures = 0
        self.recent: list[Message] = []
        self.sent = 0
        self.statuses = 0

    def start(self) -> None:
        """Nothing to open."""

    def stop(self) -> None:
        """Nothing to close."""

    def send(self, outgoing: Outgoing) -> None:
        """Count one outgoing message and keep the last hundred."""
        self.sent += 1
        if outgoing.message.text("t") == "status":
            self.statuses += 1
        self.recent.append(outgoing.message)
        del self.recent[:-100]

    def receive(self, datagram: bytes, source: object = ("192.0.2.66", 694)) -> None:
        """Deliver one datagram to the node as the medium would."""
        self.context.deliver(datagram, self.name, source)


@implementer(IMediumType)
class FakeMedium:
    """A medium plugin owning an existing directive (ucast) whose links are FakeLinks."""

    directive = "ucast"
    parser = MEDIUM_PARSERS["ucast"]

    def __init__(self) -> None:
        self.links: list[FakeLink] = []

    def check_host(self, medium: Any) -> None:
        """Every host can carry it."""

    def open(self, medium: Any, context: MediumContext) -> IMediumLink:
        """A FakeLink named like the configured medium."""
        link = FakeLink(medium, context)
        self.links.append(link)
        return link


@implementer(ILogObserver)
@dataclass
class LogCollector:
    """Log events that a daemon must never produce: failures and critical lines that are not
    Heartbeat's own event wording."""

    errors: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any]) -> None:
        critical = event.get("log_level") is LogLevel.critical and "hb_event" not in event
        if "log_failure" in event or critical:
            self.errors.append(event)


class NodeHarness:
    """A started NodeService of the cluster above on a FakeReactor, fed through a FakeLink."""

    def __init__(self, config: ClusterConfig) -> None:
        self.reactor = FakeReactor()
        self.reactor.advance(START_TIME)
        self.medium = FakeMedium()
        self.log = LogCollector()
        identity = Identity(config.local_node, LOCAL_UUID, LOCAL_GENERATION)
        self.node = NodeService(config, identity, {"ucast": self.medium}, self.reactor)
        self.link = self.medium.links[0]

    def __enter__(self) -> NodeHarness:
        globalLogPublisher.addObserver(self.log)
        self.node.startService()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.node.stopService()
        finally:
            globalLogPublisher.removeObserver(self.log)

    def feed(self, datagram: bytes) -> None:
        """Hand one datagram to the node; whatever the node raises escapes."""
        self.link.receive(datagram)

    def run(self, seconds: float, step: float = KEEPALIVE / 2) -> None:
        """Advance the fake clock in steps, running the node's timers."""
        for _ in range(round(seconds / step)):
            self.reactor.advance(step)

    def heartbeats_during(self, seconds: float) -> int:
        """How many status messages the node sends while the clock moves on `seconds`."""
        before = self.link.statuses
        self.run(seconds)
        return self.link.statuses - before


# --------------------------------------------------------------------------------------------
# Probes into the node: the only code that knows the core's internals


def probe(node: NodeService) -> dict[str, int]:
    """The sizes of the core's bounded structures (peers, rexmit numbers, held and queued
    messages, the largest per-sender missing list)."""
    core = node.core
    delivery = core.delivery
    return {
        "peers": len(core.membership.peers),
        "rexmit_pending": delivery.rexmit.pending(),
        "inbox_held": delivery.inbox.waiting(),
        "outbox_queued": core.queued,
        "missing_max": max(len(stream.tracker.missing) for stream in delivery.streams.values()),
    }


def caps(node: NodeService) -> dict[str, int]:
    """The bound each probe must stay within.

    Peers: the configured nodes (no autojoin). Missing and pending retransmission numbers: the
    499 per sender Heartbeat tracks. Held messages: one history's worth per sender (a sender
    cannot repair a gap older than its history). Queued application messages: one history.
    """
    from hbtwist.core.caps import HISTORY_SIZE, MAX_MISSING

    senders = len(node.config.hacf.nodes) - 1
    return {
        "peers": senders + 1,
        "rexmit_pending": MAX_MISSING * senders,
        "inbox_held": HISTORY_SIZE * senders,
        "outbox_queued": HISTORY_SIZE,
        "missing_max": MAX_MISSING,
    }


def over_caps(node: NodeService) -> dict[str, tuple[int, int]]:
    """Every probe above its cap, as (size, cap)."""
    sizes, limits = probe(node), caps(node)
    return {name: (sizes[name], limits[name]) for name in sizes if sizes[name] > limits[name]}


def membership(harness: NodeHarness) -> tuple[object, ...]:
    """Everything about the cluster a message could change: each peer's status, generation,
    UUID, sequence and link states, comm-up, flow control, timers, and what was sent."""
    core = harness.node.core
    streams = core.delivery.streams
    peers = tuple(
        (
            name,
            peer.status,
            peer.generation,
            peer.uuid,
            peer.heard,
            peer.last_status_seq,
            peer.deadtime_ms,
            tuple((link.name, link.status, link.heard) for link in peer.links.values()),
            streams[name].tracker.last_seq,
            tuple(streams[name].tracker.missing),
            streams[name].ackseq,
        )
        for name, peer in core.membership.peers.items()
    )
    timers = tuple(sorted((call.getTime(), repr(call.func)) for call in harness.reactor.calls))
    return (
        peers,
        core.comm_up,
        core.local_status,
        core.delivery.flow_control,
        timers,
        harness.link.sent,
    )
