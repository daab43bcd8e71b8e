"""Operator clients built on :class:`teleop.client.TeleopClient`.

- :mod:`teleop.clients.gamepad`: drive an arm with a locally attached gamepad
  (``teleop gamepad``).
- :mod:`teleop.clients.leader`: mirror a leader arm onto the follower (``teleop leader``).
"""
