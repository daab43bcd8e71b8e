"""The Feetech STS3215 control table: one entry per register, as data.

Addresses 0-39 are the EEPROM area (kept across power cycles), 40 and up are RAM.
Values are little-endian; registers with a ``sign_bit`` use sign-magnitude encoding
(the magnitude below that bit, the sign in it).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Register:
    """One register of the control table.

    Attributes:
        name: Register name, as in the vendor's table.
        address: First byte's address.
        size: Width in bytes (1 or 2).
        sign_bit: Bit that holds the sign (sign-magnitude), or None when unsigned.
        read_only: Whether the servo ignores writes to it.
    """

    name: str
    address: int
    size: int
    sign_bit: int | None = None
    read_only: bool = False


def _r(
    name: str, address: int, size: int = 1, sign_bit: int | None = None, read_only: bool = False
) -> Register:
    return Register(name, address, size, sign_bit, read_only)


MODEL_STS3215 = 777
TICKS_PER_TURN = 4096
EEPROM_END = 40
"""Addresses below this are EEPROM."""
MEMORY_SIZE = 86
"""Bytes of control table an emulated servo holds."""

FIRMWARE_MAJOR = _r("Firmware_Major_Version", 0, read_only=True)
FIRMWARE_MINOR = _r("Firmware_Minor_Version", 1, read_only=True)
MODEL_NUMBER = _r("Model_Number", 3, 2, read_only=True)
ID = _r("ID", 5)
BAUD_RATE = _r("Baud_Rate", 6)
RETURN_DELAY_TIME = _r("Return_Delay_Time", 7)
RESPONSE_STATUS_LEVEL = _r("Response_Status_Level", 8)
MIN_POSITION_LIMIT = _r("Min_Position_Limit", 9, 2)
MAX_POSITION_LIMIT = _r("Max_Position_Limit", 11, 2)
MAX_TEMPERATURE_LIMIT = _r("Max_Temperature_Limit", 13)
MAX_VOLTAGE_LIMIT = _r("Max_Voltage_Limit", 14)
MIN_VOLTAGE_LIMIT = _r("Min_Voltage_Limit", 15)
MAX_TORQUE_LIMIT = _r("Max_Torque_Limit", 16, 2)
P_COEFFICIENT = _r("P_Coefficient", 21)
D_COEFFICIENT = _r("D_Coefficient", 22)
I_COEFFICIENT = _r("I_Coefficient", 23)
PROTECTION_CURRENT = _r("Protection_Current", 28, 2)
HOMING_OFFSET = _r("Homing_Offset", 31, 2, sign_bit=11)
OPERATING_MODE = _r("Operating_Mode", 33)
OVERLOAD_TORQUE = _r("Overload_Torque", 36)
TORQUE_ENABLE = _r("Torque_Enable", 40)
ACCELERATION = _r("Acceleration", 41)
GOAL_POSITION = _r("Goal_Position", 42, 2, sign_bit=15)
GOAL_TIME = _r("Goal_Time", 44, 2)
GOAL_SPEED = _r("Goal_Speed", 46, 2, sign_bit=15)
TORQUE_LIMIT = _r("Torque_Limit", 48, 2)
LOCK = _r("Lock", 55)
PRESENT_POSITION = _r("Present_Position", 56, 2, sign_bit=15, read_only=True)
PRESENT_SPEED = _r("Present_Speed", 58, 2, sign_bit=15, read_only=True)
PRESENT_LOAD = _r("Present_Load", 60, 2, sign_bit=10, read_only=True)
PRESENT_VOLTAGE = _r("Present_Voltage", 62, read_only=True)
PRESENT_TEMPERATURE = _r("Present_Temperature", 63, read_only=True)
STATUS = _r("Status", 65, read_only=True)
MOVING = _r("Moving", 66, read_only=True)
PRESENT_CURRENT = _r("Present_Current", 69, 2, sign_bit=15, read_only=True)

REGISTERS: tuple[Register, ...] = (
    FIRMWARE_MAJOR,
    FIRMWARE_MINOR,
    MODEL_NUMBER,
    ID,
    BAUD_RATE,
    RETURN_DELAY_TIME,
    RESPONSE_STATUS_LEVEL,
    MIN_POSITION_LIMIT,
    MAX_POSITION_LIMIT,
    MAX_TEMPERATURE_LIMIT,
    MAX_VOLTAGE_LIMIT,
    MIN_VOLTAGE_LIMIT,
    MAX_TORQUE_LIMIT,
    P_COEFFICIENT,
    D_COEFFICIENT,
    I_COEFFICIENT,
    PROTECTION_CURRENT,
    HOMING_OFFSET,
    OPERATING_MODE,
    OVERLOAD_TORQUE,
    TORQUE_ENABLE,
    ACCELERATION,
    GOAL_POSITION,
    GOAL_TIME,
    GOAL_SPEED,
    TORQUE_LIMIT,
    LOCK,
    PRESENT_POSITION,
    PRESENT_SPEED,
    PRESENT_LOAD,
    PRESENT_VOLTAGE,
    PRESENT_TEMPERATURE,
    STATUS,
    MOVING,
    PRESENT_CURRENT,
)

FEEDBACK_START = PRESENT_POSITION.address
FEEDBACK_LENGTH = PRESENT_CURRENT.address + PRESENT_CURRENT.size - FEEDBACK_START
"""One sync read of addresses 56..70 gets position, speed, load, voltage, temperature,
status, moving and current of every servo: 15 bytes each."""

BAUD_CODES: dict[int, int] = {
    1_000_000: 0,
    500_000: 1,
    250_000: 2,
    128_000: 3,
    115_200: 4,
    76_800: 5,
    57_600: 6,
    38_400: 7,
}
"""Baud rate in [bit/s] -> the code stored in ``Baud_Rate``."""

# Status-packet error byte: one bit per condition (the servo's own protection flags).
ERROR_BITS: dict[int, str] = {
    0x01: "voltage",
    0x02: "angle_sensor",
    0x04: "overheat",
    0x08: "overcurrent",
    0x20: "overload",
}


def error_names(error: int) -> tuple[str, ...]:
    """Names of the conditions set in a status packet's error byte."""
    return tuple(name for bit, name in ERROR_BITS.items() if error & bit)
