"""Stamping of outgoing messages with Heartbeat's control fields (spec section 1.7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hbtwist.wire import Field, FieldType, Keyring, Message, sign_inner
from hbtwist.wire.classic import AUTH
from hbtwist.wire.template import MessageTemplate

NOSEQUENCE = 0xFFFFFFFF
_SEQ_SLOT = Field(b"seq", FieldType.STRING, b"0")
_SLOTS = (b"seq", b"ts", b"ld")
"""The control fields that change from one stamp of a repeated message to the next."""
_ACK_SLOTS = (b"ackseq", b"ts")
"""The fields that change from one acknowledgement to the same node to the next."""
ACK_TEMPLATES_LIMIT = 256
"""Addressees whose acknowledgement templates are kept before they are all made again."""
_AckTemplate = tuple[MessageTemplate, tuple[Field, ...]]
"""An addressee's acknowledgement template and the fixed control fields it was made with."""


def is_unsequenced(message_type: bytes | str | None) -> bool:
    """Whether a message type carries no sequence number (the `NS_` types)."""
    if isinstance(message_type, str):
        message_type = message_type.encode("ascii", "replace")
    return message_type is not None and message_type.startswith(b"NS_")


@dataclass
class Identity:
    """Who this node is on the wire."""

    name: str
    uuid: bytes
    generation: int


class Stamper:
    """Adds `destuuid src srcuuid seq hg ts ld ttl [auth]` to messages this node originates."""

    def __init__(
        self,
        identity: Identity,
        keyring: Keyring,
        *,
        ttl: int,
        inner_auth: bool,
        wallclock: Callable[[], float],
        loadavg: Callable[[], str],
    ) -> None:
        """`wallclock` gives the time for `ts`, `loadavg` the host's load average text for `ld`."""
        self.identity = identity
        self.keyring = keyring
        self.ttl = ttl
        self.inner_auth = inner_auth
        self._wallclock = wallclock
        self._loadavg = loadavg
        self.last_seq = 0
        self._fixed: tuple[tuple[str, bytes, int, int], tuple[Field, ...]] | None = None
        self._ts = Field(b"ts", FieldType.STRING, b"")
        self._ld = Field(b"ld", FieldType.STRING, b"")
        self._last_kind: tuple[Message, bool, bool] = (Message(), False, False)
        self._previous: Message | None = None
        self._template: tuple[MessageTemplate, Message, tuple[Field, ...]] | None = None
        self._ack_templates: dict[tuple[str, bytes | None], _AckTemplate] = {}

    def stamp(self, message: Message, destuuid: bytes | None = None) -> Message:
        """Return `message` with control fields set; sequenced types consume the next `seq`.

        `destuuid` is the UUID of the message's `dest`, when it is known.
        """
        return self.stamp_numbered(message, destuuid)[0]

    def stamp_numbered(self, message: Message, destuuid: bytes | None = None) -> tuple[Message, int]:
        """`stamp`, and the sequence number the message took (0 for an unsequenced type)."""
        unsequenced, nested = self._kind_of(message)
        if not unsequenced and destuuid is None:
            template = self._template_for(message, nested)
            if template is not None:
                self.last_seq = seq = self.last_seq + 1
                seq_field = Field(b"seq", FieldType.STRING, b"%x" % seq)
                return template.fill((seq_field, self._ts_field(), self._ld_field())), seq
        src, srcuuid, hg, ttl = self._fixed_fields()
        controls = [src, srcuuid]
        seq = 0
        if not unsequenced:
            self.last_seq = seq = self.last_seq + 1
            controls.append(Field(b"seq", FieldType.STRING, b"%x" % seq))
        controls.append(hg)
        controls.append(self._ts_field())
        if not unsequenced:
            controls.append(self._ld_field())
        controls.append(ttl)
        if unsequenced:
            controls = [entry for entry in controls if entry.name not in message]
        if destuuid is not None:
            controls.insert(0, Field(b"destuuid", FieldType.BINARY, destuuid))
        message = message.with_fields(controls)
        if self.inner_auth and not nested:
            message = sign_inner(message, self.keyring)
        return message, seq

    def acknowledgement(self, dest: str, ackseq: int, destuuid: bytes | None = None) -> Message:
        """`NS_ackmsg` telling `dest` (whose UUID is `destuuid`, if known) that this node has its
        messages up to `ackseq`: what `stamp` makes of `t dest ackseq`, filled into a template
        kept per addressee (a node acknowledges each peer every tenth message)."""
        ackseq_field = Field(b"ackseq", FieldType.STRING, b"%x" % ackseq)
        return self._ack_template(dest, destuuid).fill((ackseq_field, self._ts_field()))

    def _ack_template(self, dest: str, destuuid: bytes | None) -> MessageTemplate:
        fixed = self._fixed_fields()
        held = self._ack_templates.get((dest, destuuid))
        if held is not None and self._current(*held, fixed, self.inner_auth):
            return held[0]
        ack = Message.of(("t", "NS_ackmsg"), ("dest", dest), ("ackseq", "0"))
        stamped = self.stamp(ack, destuuid).without(AUTH)
        template = MessageTemplate(stamped.fields, _ACK_SLOTS, self.keyring, inner_auth=self.inner_auth)
        if len(self._ack_templates) >= ACK_TEMPLATES_LIMIT:
            self._ack_templates.clear()
        self._ack_templates[(dest, destuuid)] = (template, fixed)
        return template

    def _template_for(self, message: Message, nested: bool) -> MessageTemplate | None:
        """The template for a sequenced message stamped twice in a row (the status, the same
        message at every keepalive while nothing changes), or None."""
        fixed = self._fixed_fields()
        inner_auth = self.inner_auth and not nested
        held = self._template
        if held is not None:
            template, base, held_fixed = held
            if base is message and self._current(template, held_fixed, fixed, inner_auth):
                return template
        if message is not self._previous:
            self._previous = message
            return None
        src, srcuuid, hg, ttl = fixed
        controls = (src, srcuuid, _SEQ_SLOT, hg, self._ts_field(), self._ld_field(), ttl)
        stamped = message.with_fields(controls)
        template = MessageTemplate(stamped.fields, _SLOTS, self.keyring, inner_auth=inner_auth)
        self._template = (template, message, fixed)
        return template

    def _current(
        self,
        template: MessageTemplate,
        made_with: tuple[Field, ...],
        fixed: tuple[Field, ...],
        inner_auth: bool,
    ) -> bool:
        """Whether `template`, made with the fixed fields `made_with`, still stamps as this
        stamper would: the same fixed fields, keyring and inner signing."""
        return (
            made_with is fixed and template.keyring is self.keyring and template.inner_auth == inner_auth
        )

    def _kind_of(self, message: Message) -> tuple[bool, bool]:
        """Whether `message` is unsequenced and whether it nests messages; remembered for the
        last message stamped (a status is the same message at every keepalive)."""
        last, unsequenced, nested = self._last_kind
        if message is not last:
            unsequenced, nested = is_unsequenced(message.text("t")), _has_nested(message)
            self._last_kind = (message, unsequenced, nested)
        return unsequenced, nested

    def _fixed_fields(self) -> tuple[Field, ...]:
        """`src srcuuid hg ttl`, made again only when the identity or `ttl` changes."""
        identity = self.identity
        key = (identity.name, identity.uuid, identity.generation, self.ttl)
        if self._fixed is None or self._fixed[0] != key:
            fields = (
                Field(b"src", FieldType.STRING, identity.name.encode()),
                Field(b"srcuuid", FieldType.BINARY, identity.uuid),
                Field(b"hg", FieldType.STRING, b"%x" % identity.generation),
                Field(b"ttl", FieldType.STRING, b"%d" % self.ttl),
            )
            self._fixed = (key, fields)
        return self._fixed[1]

    def _ts_field(self) -> Field:
        """`ts`: the wall clock in whole seconds (at least 1), as hex."""
        self._ts = _kept_or_new(self._ts, b"%x" % max(1, int(self._wallclock())))
        return self._ts

    def _ld_field(self) -> Field:
        """`ld`: the host's load average text."""
        self._ld = _kept_or_new(self._ld, self._loadavg().encode())
        return self._ld


def _kept_or_new(kept: Field, value: bytes) -> Field:
    """`kept` while its value is still `value`, else a new STRING field of the same name."""
    return kept if kept.value == value else Field(kept.name, FieldType.STRING, value)


def _has_nested(message: Message) -> bool:
    return any(entry.type in (FieldType.STRUCT, FieldType.COMPRESS) for entry in message)
