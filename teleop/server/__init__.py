"""The asyncio adapter: websockets in and out, around the session and the control loop.

Like websockets' own ``asyncio`` package, this only moves messages: the decisions are
made by :mod:`teleop.session` (who may do what) and :mod:`teleop.control` with
:mod:`teleop.safety` (what the arm does). Modules:

- :mod:`.server`: :class:`TeleopServer`, one robot's websocket server, and its config;
- :mod:`.streams`: the state and frame broadcasts, and the pure ``state`` builder;
- :mod:`.outbox`: one client's outgoing messages (replies in order, streams latest-wins);
- :mod:`.http`: the handshake gate (tokens, Origins) and the browser UI's files.
"""

from teleop.server.http import GateConfig
from teleop.server.server import ServerConfig, TeleopServer

__all__ = ["GateConfig", "ServerConfig", "TeleopServer"]
