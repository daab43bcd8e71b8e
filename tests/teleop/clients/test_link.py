"""What both operator clients share: the reconnect waits, the status throttle, the line."""

from __future__ import annotations

import dataclasses

from teleop.clients.link import Backoff, Link, StatusPublisher, status_line


@dataclasses.dataclass(frozen=True)
class Seen:
    link: Link = Link.CONNECTING
    note: str = ""
    value: int = 0


def test_backoff_doubles_up_to_the_cap_and_starts_over_after_a_lease() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next_s() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert [backoff.next_s() for _ in range(2)] == [0.5, 1.0]


def test_publisher_throttles_but_passes_forced_statuses_and_link_changes() -> None:
    seen: list[Seen] = []
    publisher = StatusPublisher(Seen(), seen.append, status_hz=5.0)  # one per 0.2 s
    publisher.publish(Seen(Link.CONNECTED, value=1), 10.0)  # the link changed
    publisher.publish(Seen(Link.CONNECTED, value=2), 10.1)  # too soon: kept, not handed on
    assert publisher.status.value == 2 and [s.value for s in seen] == [1]
    publisher.publish(Seen(Link.CONNECTED, value=3), 10.1, force=True)
    publisher.publish(Seen(Link.CONNECTED, value=4), 10.3)  # due again
    publisher.publish(Seen(Link.RETRYING, value=5), 10.31)  # too soon, but the link changed
    assert [s.value for s in seen] == [1, 3, 4, 5]
    assert not publisher.due(10.4) and publisher.due(10.52)


def test_status_line_starts_with_the_link_and_ends_with_the_note() -> None:
    assert status_line(Link.CONNECTED, None, ["lease: yes", "idle"], "") == (
        "connected | lease: yes | idle"
    )
    assert status_line(Link.RETRYING, 1.26, [], "connection closed") == (
        "disconnected, retrying in 1.3 s | connection closed"
    )
    assert status_line(Link.RETRYING, -0.2, [], "") == "disconnected, retrying in 0.0 s"
    assert status_line(Link.CONNECTING, None, [], "x") == "connecting | x"
