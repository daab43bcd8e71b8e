"""Operator clients built on :class:`teleop.client.TeleopClient`.

- :mod:`teleop.clients.gamepad`: drive an arm with a locally attached gamepad
  (``teleop gamepad``).
- :mod:`teleop.clients.leader`: mirror a leader arm onto the follower (``teleop leader``).
- :mod:`teleop.clients.link`: what both share: the link's settings and state, the status
  line it starts, the status throttle and the reconnect-with-backoff loop.
- :mod:`teleop.clients.device`: an input device's ``with`` lifecycle;
  :mod:`teleop.clients.status_line` writes a status to the terminal.
"""
