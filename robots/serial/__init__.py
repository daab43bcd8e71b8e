"""The Feetech STS serial backend: packet codec, bus, calibration, the SO-101 follower
arm, and a virtual bus (emulator) on a pseudo-terminal.

Servo ticks exist only inside this package; everything it hands out is in SI units.
"""

from robots.serial.so101 import So101Robot

__all__ = ["So101Robot"]
