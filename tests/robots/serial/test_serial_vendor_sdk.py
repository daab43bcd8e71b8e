"""The emulator checked by an independent client: Feetech's own ``scservo_sdk``.

It must be right, not just agree with our driver: the vendor SDK pings it, reads
Present_Position, sync-writes Goal_Position, and sees the servo move.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import scservo_sdk as sdk  # the vendor client: pip install feetech-servo-sdk (test extras)
from timing import MS

from robots.serial.emulator import emulator_process


@pytest.fixture
def port() -> Iterator[Any]:
    # In its own process: the SDK busy-waits for replies, which would starve a thread.
    with emulator_process(6, positions={6: 2000.0}) as path:
        handler = sdk.PortHandler(path)
        assert handler.openPort()
        assert handler.setBaudRate(1_000_000)
        yield handler
        handler.closePort()


def _patient(call: Callable[[], tuple[Any, ...]]) -> tuple[Any, ...]:
    """The SDK's reply timeout (~34 ms) assumes a quiet host: allow a loaded one 3 tries."""
    for _ in range(3):
        result = call()
        if sdk.COMM_RX_TIMEOUT not in result[-2:]:
            break
    return result


def test_vendor_sdk_pings_reads_and_sync_writes(port: Any) -> None:
    packets = sdk.PacketHandler(0)
    model, result, error = _patient(lambda: packets.ping(port, 3))
    assert (model, result, error) == (777, sdk.COMM_SUCCESS, 0)

    position, result, _ = _patient(lambda: packets.read2ByteTxRx(port, 3, 56))  # Present_Position
    assert (position, result) == (2048, sdk.COMM_SUCCESS)

    result, error = _patient(lambda: packets.write1ByteTxRx(port, 3, 40, 1))  # Torque_Enable
    assert (result, error) == (sdk.COMM_SUCCESS, 0)
    writer = sdk.GroupSyncWrite(port, packets, 42, 2)  # Goal_Position
    assert writer.addParam(3, [sdk.SCS_LOBYTE(2600), sdk.SCS_HIBYTE(2600)])
    assert writer.txPacket() == sdk.COMM_SUCCESS

    reader = sdk.GroupSyncRead(port, packets, 56, 2)
    for servo_id in range(1, 7):
        assert reader.addParam(servo_id)
    deadline = time.monotonic() + 3000 * MS
    while True:
        if reader.txRxPacket() != sdk.COMM_SUCCESS:
            continue  # a reply later than the SDK's timeout on a loaded host: ask again
        positions = {i: reader.getData(i, 56, 2) for i in range(1, 7)}
        if positions[3] == 2600 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert positions[3] == 2600, positions
    assert positions[1] == 2048 and positions[6] == 2000  # the others did not move
