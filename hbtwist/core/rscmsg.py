"""The release-1 resource messages (spec 3.3) in Heartbeat's field order, and hbtwist's one addition.

hbtwist adds one field, `hbtwist_groups`, to `resource` and `ask_resources` messages: the exact
group keys meant, written `<count> <key> <key>...`. Heartbeat 3.0.6 ignores fields it does not
know, so its nodes read these messages as before; hbtwist nodes use the field where Heartbeat's
`rsc_hold` (none, local, foreign, all) cannot say which groups of a larger cluster are meant.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from hbtwist.wire import Message

GROUPS_FIELD = "hbtwist_groups"
TO_FIELD = "hbtwist_to"
"""In a standby asked for one node's sake (a takeover or a failback): the node that takes."""
HOLD_SETS = ("none", "local", "foreign", "all")
REQUEST_SETS = ("all", "local", "foreign", "failback")
"""What `hb_standby` and `hb_takeover` accept; `failback` means `foreign`."""


def resource_report(
    holding: str, stable: bool, groups: Iterable[str], info: str | None = None
) -> Message:
    """A `resource` report: what the sender holds (`rsc_hold` and the exact groups)."""
    fields = [("t", "resource"), ("rsc_hold", holding), ("rtype", "full")]
    fields.append(("isstable", "1" if stable else "0"))
    if info is not None:
        fields.append(("info", info))
    fields.append((GROUPS_FIELD, encode_groups(groups)))
    return Message.of(*fields)


def mach_down_report() -> Message:
    """What Heartbeat's `mach_down` script sends once a dead node's groups are taken over."""
    return Message.of(("t", "resource"), ("rsc_hold", "foreign"), ("info", "mach_down"))


def starting() -> Message:
    """`starting`: this node just came up and asks what the others hold."""
    return Message.of(("t", "starting"))


def ask_resources(
    which: str, phase: str, groups: Iterable[str] | None = None, to: str | None = None
) -> Message:
    """One step of the three-phase standby: `info` is `me`, `other` or `done`."""
    fields = [("t", "ask_resources"), ("rsc_hold", which), ("info", phase)]
    if groups is not None:
        fields.append((GROUPS_FIELD, encode_groups(groups)))
    if to is not None:
        fields.append((TO_FIELD, to))
    return Message.of(*fields)


def takeover_request(which: str) -> Message:
    """`hb_takeover`: the sender wants `which` resources; their holders go standby for them."""
    return Message.of(("t", "hb_takeover"), ("rsc_hold", which))


def ip_request(key: str) -> Message:
    """Legacy failback: the sender asks for the group `key` back."""
    return Message.of(("t", "ip-request"), ("ipaddr", key))


def ip_request_response(requester: str, key: str, we_own: bool) -> Message:
    """The answer to `ip-request`: whether the sender held the group (it has released it)."""
    return Message.of(
        ("t", "ip-request-resp"),
        ("dest", requester),
        ("ipaddr", key),
        ("weown", "yes" if we_own else "no"),
        ("ok", "OK"),
    )


def stonith_result(node: str, result: str) -> Message:
    """The outcome of fencing `node`: `OK`, `badhost`, `bad`, `n_stnth` or `unneeded`."""
    return Message.of(("t", "stonith"), ("node", node), ("result", result))


def encode_groups(keys: Iterable[str]) -> str:
    """`<count> <key>...`: group keys never contain whitespace (haresources splits on it)."""
    keys = list(keys)
    return " ".join([str(len(keys)), *keys])


def decode_groups(message: Message, known: Collection[str]) -> frozenset[str] | None:
    """The groups a message names, keeping only configured ones; None when it names none
    (a Heartbeat node, or a malformed field)."""
    text = message.text(GROUPS_FIELD)
    if text is None:
        return None
    count, *keys = text.split(" ")
    if not count.isascii() or not count.isdigit() or int(count) != len(keys):
        return None
    return frozenset(key for key in keys if key in known)


def held_set(holds_local: bool, holds_foreign: bool) -> str:
    """Heartbeat's `rsc_hold` word for holding local and/or foreign groups."""
    if holds_local and holds_foreign:
        return "all"
    if holds_local:
        return "local"
    return "foreign" if holds_foreign else "none"
