"""Reading ha.cf into a validated `HaCf`, line by line as Heartbeat 3.0.6 does (spec section 8.1).

A `#` anywhere starts a comment; the first word is the directive; option-list directives apply
to each blank- or comma-separated word, whole-line directives and whole-line media get the rest.
Directives take effect in file order, so `udpport` and `baud` only affect media lines after them.
A line that is not text is refused as a whole; a line that cannot be read (or an unknown word
close to a directive's name) makes the checks across directives that depend on it stand down.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

from hbtwist.config.checks import (
    STONITH_PROGRAM,
    check_logging,
    check_media,
    check_membership,
    resolve_auto_failback,
    resolve_stonith,
    resolve_timings,
)
from hbtwist.config.directives import (
    ALIASES,
    DIRECTIVES,
    MAX_MEDIA,
    MEDIA,
    REFUSED,
    Directive,
    HaCfState,
)
from hbtwist.config.media import MEDIUM_PARSERS, MediumLine, MediumParser
from hbtwist.config.model import AutoJoin, HaCf, LogSettings
from hbtwist.config.problems import FileLog, is_text, shown
from hbtwist.config.source import SourceFile
from hbtwist.config.values import DELIMS, WHITESPACE, default_udp_port, split_words

_DIRECTIVE = re.compile(f"[^{re.escape(WHITESPACE)}]+")


def parse_hacf(
    source: SourceFile,
    log: FileLog,
    local_node: str | None,
    media: Mapping[str, MediumParser] = MEDIUM_PARSERS,
    stonith_program: str = STONITH_PROGRAM,
) -> HaCf:
    """The `HaCf` of `source`; every problem goes to `log` (the result is then not to be used).

    `media` maps medium directives to their parsers: the built-ins, or every installed plugin.
    `local_node` None means it is unknown (its problem is already reported): it is not checked.
    A STONITH device's type is checked with `stonith_program -L` (cluster-glue's command).
    """
    state = HaCfState(log, default_udp_port())
    for number, text in source.numbered():
        _read_line(state, text, number, media)
    return _build(state, local_node, stonith_program)


def _content(text: str) -> str:
    text = text.lstrip(WHITESPACE).split("#", 1)[0]
    return re.split("[\r\n]", text, maxsplit=1)[0]


def _read_line(state: HaCfState, text: str, line: int, media: Mapping[str, MediumParser]) -> None:
    content = _content(text)
    match = _DIRECTIVE.match(content)
    if match is None:
        return
    written = match[0]
    rest = content[match.end() :].lstrip(DELIMS).rstrip(WHITESPACE)
    name = ALIASES.get(written, written)
    known = name in media or name in DIRECTIVES
    if not is_text(content):
        state.log.error(line, f"the line is not text (binary data, or not UTF-8): {shown(content)}")
        _fail(state, name if known else None, media)
        return
    if name != written:
        state.log.warn(line, f"directive {written!r} is an old name for {name!r}")
    if name in REFUSED:
        state.log.error(line, f"{name}: {REFUSED[name]}")
        return
    entry: MediumParser | Directive | None = media.get(name) or DIRECTIVES.get(name)
    if entry is None:
        _unknown(state, written, line, media)
        return
    if not rest:
        state.log.error(line, f"{name}: missing value")
        _fail(state, name, media)
        return
    if isinstance(entry, Directive) and entry.no_effect:
        state.log.warn(line, f"{name} {entry.no_effect}")
    for argument in [rest] if entry.whole_line else split_words(rest, DELIMS):
        state.directives.append((written, argument))
        try:
            if isinstance(entry, MediumParser):
                _add_medium(state, entry, argument, line)
            else:
                entry.handler(state, argument, line)
        except ValueError as error:
            state.log.error(line, f"{name}: {error}")
            _fail(state, name, media)


def _unknown(state: HaCfState, written: str, line: int, media: Mapping[str, MediumParser]) -> None:
    """An unknown directive; one close to a directive's name is taken as a misspelling of it."""
    close = difflib.get_close_matches(written, [*DIRECTIVES, *media], n=1, cutoff=0.8)
    if not close:
        state.log.error(line, f"unknown directive {shown(written)}")
        return
    state.log.error(line, f"unknown directive {shown(written)} (did you mean {shown(close[0])}?)")
    _fail(state, close[0], media)


def _fail(state: HaCfState, name: str | None, media: Mapping[str, MediumParser]) -> None:
    if name is not None:
        state.fail(MEDIA if name in media else name)


def _add_medium(state: HaCfState, parser: MediumParser, argument: str, line: int) -> None:
    if len(state.media) >= MAX_MEDIA:
        raise ValueError(f"too many media (at most {MAX_MEDIA})")

    def warn(message: str) -> None:
        state.log.warn(line, message)

    medium = parser.parse(MediumLine(argument, (state.log.path, line), state.settings, warn))
    for existing in state.media:
        if existing == medium:
            warn(f"{medium.kind}: same medium as line {existing.location[1]}")
            break
    state.media.append(medium)


def _build(state: HaCfState, local_node: str | None, stonith_program: str) -> HaCf:
    timings = resolve_timings(state)
    autojoin = state.value("autojoin", AutoJoin.NONE)
    check_membership(state, local_node, autojoin)
    check_media(state)
    check_logging(state)
    stonith = resolve_stonith(state, local_node, stonith_program)
    return HaCf(
        nodes=tuple(state.nodes),
        media=tuple(state.media),
        keepalive_ms=timings.keepalive_ms,
        deadtime_ms=timings.deadtime_ms,
        warntime_ms=timings.warntime_ms,
        initdead_ms=timings.initdead_ms,
        deadping_ms=timings.deadping_ms,
        udpport=state.settings.udpport,
        baud=state.settings.baud,
        autojoin=autojoin,
        auto_failback=resolve_auto_failback(state),
        hopfudge=state.value("hopfudge", 1),
        msgfmt=state.value("msgfmt", "classic"),
        max_rexmit_delay_ms=state.value("max_rexmit_delay", 250),
        hbgenmethod=state.value("hbgenmethod", "file"),
        uuidfrom=state.value("uuidfrom", "file"),
        log=LogSettings(
            facility=state.optional("logfacility", str),
            logfile=state.optional("logfile", str),
            debugfile=state.optional("debugfile", str),
            use_logd=state.optional("use_logd", bool),
            conn_logd_time_ms=state.value("conn_logd_time", 60000),
            syslogmsgfmt=state.value("syslogmsgfmt", True),
            debug=state.value("debug", 0),
        ),
        respawn=tuple(state.respawn),
        apiauth=tuple(state.apiauth.values()),
        env=tuple(state.env),
        cluster=state.value("cluster", "linux-ha"),
        quorum_server=state.optional("quorum_server", str),
        realtime=state.value("realtime", True),
        rtprio=state.optional("rtprio", int),
        memreserve_kb=state.value("memreserve", 6500),
        coredumps=state.value("coredumps", True),
        coreroot=state.optional("coreroot", str),
        compression=state.value("compression", "zlib"),
        compression_threshold_kb=state.value("compression_threshold", 2),
        traditional_compression=state.value("traditional_compression", False),
        log_badpack=state.value("log_badpack", True),
        directives=tuple(state.directives),
        failed=frozenset(state.failed),
        stonith=stonith,
    )
