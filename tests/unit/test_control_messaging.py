"""Cluster messaging over the control protocol, in memory: SendMessage, SendMessages, Listen,
ClusterMessage and MessageGap against a simulated cluster, and `hbctl send` / `hbctl listen`."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.protocols import amp

from hbtwist.cli import send as messaging_command
from hbtwist.cli.main import build_parser
from hbtwist.config import ClusterConfig, load_config
from hbtwist.control import messages as messaging
from hbtwist.control import protocol as p
from hbtwist.control import server as control_server
from hbtwist.control.client import ControlClient, batches, encode_batch
from hbtwist.control.view import NodeView
from hbtwist.core import events
from hbtwist.wire import Message
from tests.conftest import THREE_NODE_HA_CF, write_config
from tests.doubles.control import FakeNode, connect_in_memory, run_pumped
from tests.simnet import SimNet, SimNode

NAMES = ["alpha", "beta", "gamma"]


class RecordingNode(FakeNode):
    """A FakeNode that also records every message the control plane submits."""

    def __init__(self, node: SimNode, config: ClusterConfig) -> None:
        super().__init__(node, config)
        self.submitted: list[Message] = []

    def submit(self, messages: Sequence[Message]) -> None:
        self.submitted.extend(messages)
        super().submit(messages)


class Cluster:
    """A three-node SimNet with a control view of alpha (events and messages fanned out), and a
    record of every message the control plane submitted to alpha."""

    def __init__(self, directory: Path, seed: int = 1) -> None:
        self.net = SimNet(list(NAMES), seed=seed)
        self.core = self.net.nodes["alpha"].core
        self.node = RecordingNode(self.net.nodes["alpha"], _config(directory))
        self.view = NodeView(self.node, self.net.clock)
        self.submitted = self.node.submitted
        self.net.start()
        self.net.run(6.0)

    def connect(self) -> tuple[ControlClient, control_server.ControlProtocol, Any]:
        return connect_in_memory(self.view)

    def run(self, seconds: float, pump: Any = None, step: float = 0.005) -> None:
        """Advance simulated time, moving control bytes after every step."""
        for _ in range(round(seconds / step)):
            self.net.clock.advance(step)
            if pump is not None:
                pump.flush()

    def delivered(self, name: str, kind: str) -> list[tuple[str, Message]]:
        """What node `name` delivered of type `kind`."""
        return [(s, m) for s, m in self.net.nodes[name].delivered if m.text("t") == kind]


def _config(directory: Path) -> ClusterConfig:
    write_config(directory, ha_cf=THREE_NODE_HA_CF, haresources="")
    return load_config(directory, local_node="alpha")


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    """Three simulated nodes, all active, alpha behind a control view."""
    return Cluster(tmp_path / "ha.d")


def app_fields(message: Message) -> list[tuple[str, str]]:
    """The (name, value) string fields of a message, in wire order."""
    return [(f.name.decode(), f.value.decode()) for f in message if isinstance(f.value, bytes)]


def listen(
    client: ControlClient, pump: Any, types: list[str] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Deferred[None]]:
    """Start listening; the lists that fill with messages and gaps, and the stream's end."""
    messages: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    done = Deferred.fromCoroutine(client.listen(types or [], messages.append, gaps.append))
    pump.flush()
    return messages, gaps, done


# Sending


def test_version_lists_the_messaging_commands(cluster: Cluster) -> None:
    """Version lists SendMessage, SendMessages and Listen; the protocol version stays 1."""
    client, _, pump = cluster.connect()
    answer = run_pumped(pump, client.version())
    assert answer["protocol"] == 1
    assert {"SendMessage", "SendMessages", "Listen"} <= set(answer["commands"])


def test_send_message_builds_the_message_and_submits_it(cluster: Cluster) -> None:
    """SendMessage submits a message with t first, the fields in the given order, dest last;
    the peers deliver it, and the answer reports the send queue."""
    client, _, pump = cluster.connect()
    answer = run_pumped(pump, client.send_message({"z": "1", "t": "app", "a": "two words"}))
    assert answer == {"queued": 0, "paused": False}
    answer = run_pumped(pump, client.send_message({"t": "app", "n": "2"}, dest="BETA"))
    assert [app_fields(m) for m in cluster.submitted] == [
        [("t", "app"), ("z", "1"), ("a", "two words")],
        [("t", "app"), ("n", "2"), ("dest", "beta")],
    ]
    cluster.run(0.2)
    beta = cluster.delivered("beta", "app")
    assert [(s, m.text("z") or m.text("n")) for s, m in beta] == [("alpha", "1"), ("alpha", "2")]
    gamma = cluster.delivered("gamma", "app")
    assert [m.text("z") for _, m in gamma] == ["1"]  # the second was for beta only


def test_send_messages_keeps_the_order(cluster: Cluster) -> None:
    """SendMessages submits a batch in order (dest per message); every peer delivers it in
    that order, interleaved correctly with single SendMessage calls."""
    client, _, pump = cluster.connect()
    run_pumped(pump, client.send_message({"t": "app", "n": "0"}))
    batch = [{"t": "app", "n": str(i)} for i in range(1, 200)]
    batch[5]["dest"] = "gamma"
    answer = run_pumped(pump, client.send_messages(batch))
    assert answer["count"] == 199
    run_pumped(pump, client.send_message({"t": "app", "n": "200"}))
    assert [m.text("n") for m in cluster.submitted] == [str(i) for i in range(201)]
    assert cluster.submitted[6].text("dest") == "gamma"
    cluster.run(1.0)
    expected = [str(i) for i in range(201)]
    assert [m.text("n") for _, m in cluster.delivered("gamma", "app")] == expected
    assert [m.text("n") for _, m in cluster.delivered("beta", "app")] == expected[:6] + expected[7:]


def test_flow_control_holds_messages_in_order_and_never_drops_them(cluster: Cluster) -> None:
    """While nothing is acknowledged (every packet lost) messages beyond the flow-control
    window wait in the send queue (`paused`); once the network is back, all arrive, in order."""
    client, _, pump = cluster.connect()
    cluster.net.loss = 1.0
    answer = run_pumped(pump, client.send_messages([{"t": "app", "n": str(i)} for i in range(400)]))
    assert answer["count"] == 400 and answer["paused"] is True
    assert 100 < answer["queued"] < 400
    status = run_pumped(pump, client.send_message({"t": "app", "n": "400"}))
    assert status["queued"] == answer["queued"] + 1 and status["paused"] is True
    cluster.run(0.2)
    cluster.net.loss = 0.0
    cluster.run(5.0)
    assert cluster.core.queued == 0
    for name in ("beta", "gamma"):
        numbers = [m.text("n") for _, m in cluster.delivered(name, "app")]
        assert numbers == [str(i) for i in range(401)], name
        assert not [e for _, e in cluster.net.nodes[name].events if isinstance(e, events.MessagesLost)]


def test_a_full_send_queue_refuses_the_whole_request(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond MAX_SEND_QUEUE waiting messages a request is refused with QUEUE_FULL and nothing
    of it is queued; an empty SendMessages reports the queue length."""
    monkeypatch.setattr(p, "MAX_SEND_QUEUE", 300)
    client, _, pump = cluster.connect()
    cluster.net.loss = 1.0
    run_pumped(pump, client.send_messages([{"t": "app"}] * 290))
    waiting = cluster.core.queued
    assert 0 < waiting < 100
    with pytest.raises(p.QueueFull, match="send queue holds"):
        run_pumped(pump, client.send_messages([{"t": "app"}] * (301 - waiting)))
    run_pumped(pump, client.send_messages([{"t": "app"}] * (300 - waiting)))
    with pytest.raises(p.QueueFull):
        run_pumped(pump, client.send_message({"t": "app"}))
    assert cluster.core.queued == 300 and len(cluster.submitted) == 590 - waiting
    assert run_pumped(pump, client.send_messages([])) == {"count": 0, "queued": 300, "paused": True}


BAD_FIELDS = [
    ("not json", "not valid JSON"),
    ('["t", "app"]', "must be a JSON object"),
    ('{"n": "1"}', "field 't' is required"),
    ('{"t": ""}', "is empty"),
    ('{"t": 5}', "must be a string"),
    ('{"t": "NS_ackmsg"}', "reserved"),
    ('{"t": "status"}', "reserved"),
    ('{"t": "shutdone"}', "reserved"),
    ('{"t": "app", "a=b": "1"}', "not valid"),
    ('{"t": "app", "a\\nb": "1"}', "not valid"),
    ('{"t": "app", "a\\u0000b": "1"}', "not valid"),
    ('{"t": "app", "(2)x": "1"}', "not valid"),
    ('{"t": "app", "": "1"}', "not valid"),
    ('{"t": "app", "caf\\u00e9": "1"}', "not ASCII"),
    ('{"t": "app", "seq": "1"}', "control field"),
    ('{"t": "app", "dest": "beta"}', "control field"),
    ('{"t": "app", "src": "beta"}', "control field"),
    ('{"t": "app", "n": 1}', "must be a string"),
    ('{"t": "app", "n": "a\\u0000b"}', "NUL"),
    ('{"t": "app", "n": "\\ud800"}', "not valid Unicode"),
    ('{"t": "app", "n": "1", "n": "2"}', "given twice"),
    ('{"t": "app", "n": "' + "x" * 60_000 + '"}', "too big"),
]


@pytest.mark.parametrize(("fields", "reason"), BAD_FIELDS, ids=[r for _, r in BAD_FIELDS])
def test_send_message_refuses_bad_messages(cluster: Cluster, fields: str, reason: str) -> None:
    """A malformed or forbidden message is refused with BAD_MESSAGE and nothing is submitted."""
    client, _, pump = cluster.connect()
    with pytest.raises(p.BadMessage, match=reason):
        run_pumped(pump, client.call(p.SendMessage, fields=fields))
    assert cluster.submitted == []


def test_send_message_refuses_an_unknown_destination(cluster: Cluster) -> None:
    """`dest` must name a node of the cluster (case-insensitive): else UNKNOWN_NODE."""
    client, _, pump = cluster.connect()
    with pytest.raises(p.UnknownNode, match="no such node: delta"):
        run_pumped(pump, client.send_message({"t": "app"}, dest="delta"))
    with pytest.raises(p.UnknownNode):
        run_pumped(pump, client.send_messages([{"t": "app"}, {"t": "app", "dest": "delta"}]))
    assert cluster.submitted == []


def test_a_bad_message_in_a_batch_refuses_the_batch(cluster: Cluster) -> None:
    """One bad message refuses its whole batch (naming its index); too many messages too."""
    client, _, pump = cluster.connect()
    batch = [{"t": "app", "n": "0"}, {"t": "app", "n": "1"}, {"t": "app", "a=b": "2"}]
    with pytest.raises(p.BadMessage, match="^message 2: field name 'a=b'"):
        run_pumped(pump, client.send_messages(batch))
    with pytest.raises(p.BadMessage, match="message 0: not a JSON object"):
        run_pumped(pump, client.call(p.SendMessages, messages='["app"]'))
    with pytest.raises(p.BadMessage, match="must be a JSON array"):
        run_pumped(pump, client.call(p.SendMessages, messages='{"t": "app"}'))
    too_many = [{"t": "a"}] * (p.MAX_BATCH_MESSAGES + 1)
    with pytest.raises(p.BadMessage, match="at most 1000"):
        run_pumped(pump, client.send_messages(too_many))
    assert cluster.submitted == []


def test_batches_fit_one_amp_value() -> None:
    """`batches` cuts a stream of messages, in order, under the count and byte limits."""
    messages = [{"t": "app", "n": str(i), "pad": "x" * (i % 300)} for i in range(5000)]
    cut = list(batches(messages))
    assert [m for batch in cut for m in batch] == messages
    assert all(len(batch) <= p.MAX_BATCH_MESSAGES for batch in cut)
    sizes = [len(encode_batch(batch).encode()) for batch in cut]
    assert max(sizes) <= p.BATCH_BUDGET_BYTES < amp.MAX_VALUE_LENGTH
    assert list(batches([{"t": "a"}] * 2500)) == [[{"t": "a"}] * 1000] * 2 + [[{"t": "a"}] * 500]


# Listening


def test_listen_delivers_only_the_types_asked_for(cluster: Cluster) -> None:
    """A listener gets the messages of its types from every sender, its own node's included,
    each with sender, type, fields, and the sender's seq and generation for peers."""
    client, _, pump = cluster.connect()
    messages, gaps, done = listen(client, pump, ["app", "other"])
    assert cluster.node.message_listeners and len(cluster.node.subscribers) == 1
    cluster.net.nodes["beta"].core.submit(Message.of(("t", "app"), ("n", "1"), ("x", "a b")))
    cluster.net.nodes["beta"].core.submit(Message.of(("t", "noise"), ("n", "2")))
    cluster.net.nodes["gamma"].core.submit(Message.of(("t", "other"), ("n", "3"), ("dest", "alpha")))
    cluster.net.nodes["gamma"].core.submit(Message.of(("t", "app"), ("n", "4"), ("dest", "beta")))
    own_client, _, own_pump = cluster.connect()
    run_pumped(own_pump, own_client.send_message({"t": "app", "n": "5"}))
    cluster.run(0.2, pump)
    assert sorted((m["sender"], m["type"], m["fields"]) for m in messages) == [
        ("alpha", "app", {"n": "5"}),
        ("beta", "app", {"n": "1", "x": "a b"}),
        ("gamma", "other", {"n": "3"}),
    ]
    by_number = {m["fields"]["n"]: m for m in messages}
    assert set(by_number) == {"1", "3", "5"}
    beta = by_number["1"]
    assert beta["generation"] == 100 and beta["seq"] > 0 and beta["dest"] is None
    assert by_number["3"]["dest"] == "alpha"
    assert by_number["5"]["seq"] is None  # this node's own message: delivered before stamping
    assert all(m["time"] == pytest.approx(cluster.net.clock.seconds(), abs=0.3) for m in messages)
    assert gaps == [] and not done.called


def test_listen_without_types_gets_everything_and_can_change(cluster: Cluster) -> None:
    """No types means every type; a second Listen replaces the types."""
    client, _, pump = cluster.connect()
    messages, _, _ = listen(client, pump)
    beta = cluster.net.nodes["beta"].core
    beta.submit(Message.of(("t", "one")))
    beta.submit(Message.of(("t", "two")))
    cluster.run(0.1, pump)
    assert [m["type"] for m in messages] == ["one", "two"]
    run_pumped(pump, client.call(p.Listen, types=["two"]))
    beta.submit(Message.of(("t", "one")))
    beta.submit(Message.of(("t", "two")))
    cluster.run(0.1, pump)
    assert [m["type"] for m in messages] == ["one", "two", "two"]
    assert len(cluster.node.message_listeners) == 1


def test_messages_from_one_sender_arrive_in_its_order_under_loss(tmp_path: Path) -> None:
    """Under 30 % loss a listener gets every message of a sender exactly once, in order."""
    cluster = Cluster(tmp_path / "ha.d", seed=7)
    client, _, pump = cluster.connect()
    messages, gaps, _ = listen(client, pump, ["app"])
    cluster.net.loss = 0.3
    beta = cluster.net.nodes["beta"].core
    for index in range(600):
        beta.submit(Message.of(("t", "app"), ("n", str(index))))
    cluster.run(15.0, pump)
    assert gaps == []
    assert [int(m["fields"]["n"]) for m in messages] == list(range(600))
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(seqs) and len(set(seqs)) == 600


def test_gap_events_reach_listeners(cluster: Cluster) -> None:
    """Every MessagesLost event becomes a MessageGap (node, first, last, reason), in order with
    the messages; other events do not."""
    client, _, pump = cluster.connect()
    messages, gaps, _ = listen(client, pump, ["app"])
    cluster.node.emit(events.CommUp("alpha"))
    cluster.node.emit(events.MessagesLost("beta", 10, 12, "no retransmission after repeated requests"))
    cluster.node.deliver("beta", Message.of(("t", "app"), ("seq", "d"), ("hg", "64")))
    pump.flush()
    assert [(g["node"], g["first"], g["last"], g["reason"]) for g in gaps] == [
        ("beta", 10, 12, "no retransmission after repeated requests")
    ]
    assert [(m["seq"], m["generation"]) for m in messages] == [(13, 100)]


def test_lost_messages_are_reported_as_a_gap(tmp_path: Path) -> None:
    """When a sender dies with messages a listener never got, the listener gets MessageGaps
    covering exactly the sequence numbers it did not get as messages."""
    cluster = Cluster(tmp_path / "ha.d", seed=3)
    client, _, pump = cluster.connect()
    messages, gaps, _ = listen(client, pump, ["app"])
    cluster.net.loss = 0.6
    beta = cluster.net.nodes["beta"].core
    for index in range(40):
        beta.submit(Message.of(("t", "app"), ("n", str(index))))
    first_app_seq = beta.delivery.stamper.last_seq - 39
    cluster.run(0.01, pump)
    cluster.net.crash("beta")
    cluster.net.loss = 0.0
    cluster.run(2.0, pump)
    assert gaps, "some messages should have been lost"
    assert all(g["node"] == "beta" and g["reason"] == "sender declared dead" for g in gaps)
    received = {m["seq"] for m in messages}
    lost = {seq for g in gaps for seq in range(g["first"], g["last"] + 1)}
    app_range = set(range(first_app_seq, first_app_seq + 40))
    assert received & lost == set()
    assert app_range <= received | lost | {beta.delivery.stamper.last_seq + 1}
    numbers = [int(m["fields"]["n"]) for m in messages]
    assert numbers == sorted(numbers)


def test_listener_and_subscriber_share_one_connection(cluster: Cluster) -> None:
    """Subscribe and Listen on one connection: events and messages both arrive."""
    client, _, pump = cluster.connect()
    received: list[dict[str, Any]] = []
    Deferred.fromCoroutine(client.subscribe(received.append))
    pump.flush()
    messages, _, _ = listen(client, pump)
    cluster.node.emit(events.CommUp("alpha"))
    cluster.net.nodes["beta"].core.submit(Message.of(("t", "app")))
    cluster.run(0.1, pump)
    assert [event["kind"] for event in received] == ["comm_up"]
    assert [m["type"] for m in messages] == ["app"]


def test_listeners_are_removed_on_disconnect(cluster: Cluster) -> None:
    """Closing a listening connection removes its message listener and gap subscription."""
    client, _, pump = cluster.connect()
    _, _, done = listen(client, pump)
    assert len(cluster.node.message_listeners) == 1 and len(cluster.node.subscribers) == 1
    client.close()
    pump.flush()
    assert cluster.node.message_listeners == [] and cluster.node.subscribers == []
    assert done.called


def test_a_listener_that_does_not_read_is_dropped(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener whose connection stays unwritable is disconnected once too much piles up;
    held messages are sent in order when it resumes in time."""
    monkeypatch.setattr(control_server, "MAX_QUEUED_EVENTS", 5)
    client, server, pump = cluster.connect()
    messages, _, done = listen(client, pump)
    producer = server.transport.producer  # type: ignore[union-attr]
    producer.pauseProducing()
    for index in range(3):
        cluster.node.deliver("beta", Message.of(("t", "app"), ("n", str(index))))
    pump.flush()
    assert messages == []
    producer.resumeProducing()
    pump.flush()
    assert [m["fields"]["n"] for m in messages] == ["0", "1", "2"]
    producer.pauseProducing()
    for index in range(6):
        cluster.node.deliver("beta", Message.of(("t", "app"), ("n", str(index))))
    pump.flush()
    assert cluster.node.message_listeners == [] and cluster.node.subscribers == []
    assert done.called and len(messages) == 3


def test_a_message_bigger_than_one_amp_value_is_delivered_whole(cluster: Cluster) -> None:
    """A delivered message whose fields exceed 64 KiB of JSON arrives whole (LongUnicode)."""
    client, _, pump = cluster.connect()
    messages, _, _ = listen(client, pump)
    big = {f"f{i}": "é\n" * 30_000 for i in range(3)}
    cluster.node.deliver("beta", Message.of(("t", "big"), *big.items()))
    pump.flush()
    assert [m["fields"] for m in messages] == [big]


def test_application_fields_skip_control_and_binary_fields() -> None:
    """The fields shown to a listener are the string fields other than t and control fields."""
    message = Message.of(("t", "app"), ("a", "1"), ("src", "beta"), ("a", "dup"), ("seq", "1f"))
    message = message.with_field("srcuuid", b"\x00" * 16, messaging.FieldType.BINARY)
    assert messaging.application_fields(message) == {"a": "1"}
    record = messaging.message_arguments("beta", message, 1.5)
    assert (record["seq"], record["generation"], record["dest"]) == (31, None, None)


# hbctl send and hbctl listen


def hbctl(
    cluster: Cluster, capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None
) -> tuple[str, str, int]:
    """Run `hbctl ARGV` against alpha in memory, simulated time running: (stdout, stderr, status)."""
    args = build_parser().parse_args(list(argv))
    args.clock = cluster.net.clock
    if stdin is not None:
        args.input = io.StringIO(stdin)
    client, _, pump = cluster.connect()
    out = io.StringIO()
    outcome: list[Any] = []
    Deferred.fromCoroutine(args.handler(client, args, out)).addBoth(outcome.append)
    for _ in range(20_000):
        if outcome:
            break
        cluster.run(0.005, pump)
    assert outcome, "hbctl did not finish"
    return out.getvalue(), capsys.readouterr().err, outcome[0]


def test_hbctl_send_one(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl send TYPE NAME=VALUE... --dest NODE` queues one message and says so."""
    out, err, status = hbctl(cluster, capsys, "send", "app", "n=1", "text=a=b c", "--dest", "beta")
    assert (err, status) == ("", 0)
    assert out == "queued 1 message (the daemon's send queue: 0 waiting)\n"
    assert [app_fields(m) for m in cluster.submitted] == [
        [("t", "app"), ("n", "1"), ("text", "a=b c"), ("dest", "beta")]
    ]
    out, _, status = hbctl(cluster, capsys, "send", "app", "--json")
    assert (json.loads(out), status) == ({"sent": 1, "queued": 0}, 0)


@pytest.mark.parametrize(
    ("argv", "message", "status"),
    [
        (["send"], "hbctl: give TYPE [NAME=VALUE...] or --stdin (not both)\n", 2),
        (["send", "app", "--stdin"], "hbctl: give TYPE [NAME=VALUE...] or --stdin (not both)\n", 2),
        (["send", "app", "novalue"], "hbctl: 'novalue' is not NAME=VALUE\n", 1),
        (["send", "app", "n=1", "n=2"], "hbctl: field 'n' is given twice\n", 1),
        (
            ["send", "status"],
            "hbctl: the daemon refused the message: message type 'status' is reserved for the "
            "heartbeat protocol\n",
            1,
        ),
        (
            ["send", "app", "--dest", "delta"],
            "hbctl: the daemon refused the message: no such node: delta\n",
            1,
        ),
    ],
)
def test_hbctl_send_errors(
    cluster: Cluster, capsys: pytest.CaptureFixture[str], argv: list[str], message: str, status: int
) -> None:
    """Misuse exits 2, a refused message 1, each with one line on stderr."""
    out, err, code = hbctl(cluster, capsys, *argv)
    assert (out, err, code) == ("", message, status)
    assert cluster.submitted == []


def test_hbctl_send_stdin(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl send --stdin` sends every line's message, in order, in batches, and counts them."""
    lines = [json.dumps({"t": "app", "n": str(i)}) for i in range(2500)]
    lines[10] = json.dumps({"t": "app", "n": "10", "dest": "gamma"})
    lines.insert(20, "")
    out, err, status = hbctl(cluster, capsys, "send", "--stdin", stdin="\n".join(lines) + "\n")
    assert (err, status) == ("", 0)
    assert out.startswith("queued 2500 messages (the daemon's send queue: ")
    assert [m.text("n") for m in cluster.submitted] == [str(i) for i in range(2500)]
    assert cluster.submitted[10].text("dest") == "gamma"
    cluster.run(5.0)
    assert [m.text("n") for _, m in cluster.delivered("gamma", "app")] == [str(i) for i in range(2500)]


def test_hbctl_send_stdin_waits_for_room(
    cluster: Cluster, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the daemon's queue is full, `send --stdin` waits for room and loses nothing."""
    monkeypatch.setattr(p, "MAX_SEND_QUEUE", 600)
    refused: list[int] = []
    submit = messaging.submit

    def counting(node: Any, messages: list[Message]) -> dict[str, Any]:
        try:
            return submit(node, messages)
        except p.QueueFull:
            refused.append(len(messages))
            raise

    monkeypatch.setattr(messaging, "submit", counting)
    lines = "".join(json.dumps({"t": "app", "n": str(i)}) + "\n" for i in range(3000))
    out, err, status = hbctl(cluster, capsys, "send", "--stdin", "--dest", "beta", stdin=lines)
    assert (err, status) == ("", 0) and out.startswith("queued 3000 messages")
    assert 1000 in refused, "a batch bigger than the whole queue is split"
    assert any(count < 1000 for count in refused), "a full queue is waited for"
    assert [m.text("n") for m in cluster.submitted] == [str(i) for i in range(3000)]
    assert {m.text("dest") for m in cluster.submitted} == {"beta"}


def test_hbctl_send_stdin_gives_up_when_nothing_drains(
    cluster: Cluster, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queue that stays full (nothing acknowledged) for --timeout is reported, exit 1."""
    monkeypatch.setattr(p, "MAX_SEND_QUEUE", 600)
    cluster.net.loss = 1.0
    lines = "".join(json.dumps({"t": "app", "n": str(i)}) + "\n" for i in range(3000))
    _, err, status = hbctl(cluster, capsys, "send", "--stdin", "--timeout", "0.3", stdin=lines)
    assert status == 1
    assert err.startswith("hbctl: the daemon's send queue stays full (")
    assert len(cluster.submitted) < 3000


def test_hbctl_send_stdin_bad_line(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad input line stops `send --stdin` with its line number; the lines before it are sent."""
    lines = [json.dumps({"t": "app", "n": str(i)}) for i in range(5)]
    for bad, reason in [
        ('{"t": "app", "n": 7}', "field 'n': the value must be a string, not int"),
        ("[1]", "not a JSON object"),
        ("{", "not JSON: "),
        ('{"n": "1"}', "the message has no type: field 't' is required"),
        ('{"t": "app", "dest": "delta"}', "no such node: delta"),
    ]:
        cluster.submitted.clear()
        text = "\n".join([*lines[:3], bad, *lines[3:]]) + "\n"
        out, err, status = hbctl(cluster, capsys, "send", "--stdin", stdin=text)
        assert (out, status) == ("", 1)
        assert err.startswith(f"hbctl: standard input line 4: {reason}")
        assert err.endswith("(3 messages before it were queued)\n")
        assert [m.text("n") for m in cluster.submitted] == ["0", "1", "2"]


def test_hbctl_listen(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    """`hbctl listen TYPE --count N` prints N matching messages (and gap lines), then exits 0."""
    args = build_parser().parse_args(["listen", "app", "--count", "3"])
    client, _, pump = cluster.connect()
    out = io.StringIO()
    outcome: list[Any] = []
    Deferred.fromCoroutine(args.handler(client, args, out)).addBoth(outcome.append)
    pump.flush()
    beta = cluster.net.nodes["beta"].core
    beta.submit(Message.of(("t", "app"), ("n", "1"), ("text", "two words")))
    beta.submit(Message.of(("t", "noise")))
    cluster.run(0.1, pump)
    cluster.node.emit(events.MessagesLost("beta", 3, 4, "sender declared dead"))
    for index in (2, 3, 4):
        beta.submit(Message.of(("t", "app"), ("n", str(index))))
    cluster.run(0.1, pump)
    assert outcome == [0]
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0].split(" ", 2)[2].startswith("beta app seq=")
    assert lines[0].endswith(' n=1 text="two words"')
    assert " GAP beta seq=3..4 lost: sender declared dead" in lines[1]
    assert lines[3].endswith(" n=3")
    assert cluster.node.message_listeners == []
    assert capsys.readouterr().err == ""


def test_hbctl_listen_json_and_stream_end(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    """`--json` prints one object per message or gap; a closed stream is reported, exit 1."""
    args = build_parser().parse_args(["listen", "--json"])
    client, server, pump = cluster.connect()
    out = io.StringIO()
    outcome: list[Any] = []
    Deferred.fromCoroutine(args.handler(client, args, out)).addBoth(outcome.append)
    pump.flush()
    cluster.node.deliver("beta", Message.of(("t", "app"), ("seq", "a"), ("hg", "64"), ("n", "1")))
    cluster.node.emit(events.MessagesLost("beta", 11, 11, "sender cannot resend it"))
    pump.flush()
    server.transport.loseConnection()  # type: ignore[union-attr]
    pump.flush()
    assert outcome == [1]
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records[0] == {
        "kind": "message",
        "sender": "beta",
        "type": "app",
        "seq": 10,
        "generation": 100,
        "dest": None,
        "time": records[0]["time"],
        "fields": {"n": "1"},
    }
    assert records[1] == {
        "kind": "gap",
        "node": "beta",
        "first": 11,
        "last": 11,
        "reason": "sender cannot resend it",
        "time": records[1]["time"],
    }
    assert capsys.readouterr().err == "hbctl: memory: the daemon closed the message stream\n"


def test_rendering() -> None:
    """Plain values are bare, others JSON-quoted; optional parts are left out."""
    message = {
        "sender": "n1",
        "type": "app",
        "seq": None,
        "generation": None,
        "dest": "n2",
        "time": 1_700_000_000.25,
        "fields": {"a": "1", "b": "", "c": 'x"y', "d": "é"},
    }
    line = messaging_command.render_message(message, as_json=False)
    assert line.endswith('.250 n1 app dest=n2 a=1 b="" c="x\\"y" d=é')
