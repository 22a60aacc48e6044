"""The writer process's framing: documents split over reads, bigger than one read, and the stream's end."""

from __future__ import annotations

import socket
import threading

import pytest

from remit.audit.process import CHUNK, FrameReader, frame


def test_documents_come_out_whole_however_the_stream_is_cut() -> None:
    # bigger than one read (distinct strings: pickle would store one repeated string once)
    big = ("batch", 7, [f"{i:06d}" + "x" * 994 for i in range(3 * CHUNK // 1000)], None)
    documents = [("done", [1], None, 0.25), big, ("stop", None)]
    data = b"".join(frame(d) for d in documents)
    ours, theirs = socket.socketpair()
    with ours, theirs:

        def send() -> None:
            theirs.sendall(data)
            theirs.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        reader, got, reads = FrameReader(), [], 0
        while (more := reader.receive(ours)) is not None:
            got.extend(more)
            reads += 1
        sender.join(10)
    assert got == documents
    assert reads > 3  # the big one needed several reads of at most CHUNK bytes


def test_a_read_of_an_empty_non_blocking_socket_raises_and_the_end_is_none() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        reader = FrameReader()
        with pytest.raises(BlockingIOError):
            reader.receive(ours)
        theirs.sendall(frame(("done", [1], None, 0.0))[:3])  # part of a length prefix: nothing whole yet
        assert reader.receive(ours) == []
        theirs.sendall(frame(("done", [1], None, 0.0))[3:])
        assert reader.receive(ours) == [("done", [1], None, 0.0)]
        theirs.close()
        assert reader.receive(ours) is None
