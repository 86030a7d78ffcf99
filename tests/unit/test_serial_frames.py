"""Cutting a serial byte stream into classic frames, as Heartbeat's serial reader does."""

from __future__ import annotations

from hbtwist.media.serial import FrameReceiver
from hbtwist.wire.limits import MAXMSG


class _Collector:
    """Stands in for the serial link: records frames and losses."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.losses = 0

    def frame_received(self, frame: bytes) -> None:
        self.frames.append(frame)

    def lost(self, receiver: object, reason: object) -> None:
        self.losses += 1


FRAME = b">>>\nt=status\nsrc=n1\n<<<\n"


def test_frames_split_across_reads_are_reassembled() -> None:
    """A frame delivered a byte at a time comes out whole, once."""
    link = _Collector()
    receiver = FrameReceiver(link)  # type: ignore[arg-type]
    for index in range(len(FRAME)):
        receiver.dataReceived(FRAME[index : index + 1])
    assert link.frames == [FRAME]


def test_noise_eighth_bit_and_carriage_returns_are_removed() -> None:
    """Line noise before a frame is skipped, CRs dropped and the eighth bit stripped."""
    link = _Collector()
    receiver = FrameReceiver(link)  # type: ignore[arg-type]
    noisy = b"garbage\r\n" + bytes(b | 0x80 for b in b">>>") + b"\r\nt=status\r\nsrc=n1\r\n<<<\r\n"
    receiver.dataReceived(noisy + FRAME)
    assert link.frames == [FRAME, FRAME]


def test_oversized_frame_is_discarded() -> None:
    """A frame that never ends within the size limit is thrown away, not buffered forever."""
    link = _Collector()
    receiver = FrameReceiver(link)  # type: ignore[arg-type]
    receiver.dataReceived(b">>>\n" + b"x=" + b"y" * MAXMSG)
    receiver.dataReceived(b"\n<<<\n" + FRAME)
    assert link.frames == [FRAME]


def test_connection_loss_is_reported_to_the_link() -> None:
    """When the device goes away the link hears of it (to reopen it)."""
    link = _Collector()
    FrameReceiver(link).connectionLost(None)  # type: ignore[arg-type]
    assert link.losses == 1
