"""``teleop leader``: mirror a leader arm (an SO-101-class arm, torque off) onto a follower.

The leader is read by one sync read per tick (100 Hz by default) and its calibration
turns its ticks into joint angles; those angles are streamed as ``joints`` commands
through :class:`teleop.client.TeleopClient`, and the server's follower (``teleop serve
--robot so101``) turns them into its own ticks with its own calibration. The client
engages only when the two arms agree within 0.8 rad on every joint, then eases in at no
more than 0.05 rad per tick; it compares again after an e-stop, a watchdog stop, a
leader bus fault or a reconnect.

Modules:

- :mod:`.mapping` (pure): leader ticks to a follower target, through the calibration;
- :mod:`.engage` (pure): the start-up comparison, the ease-in and following;
- :mod:`.feedback` (pure): the optional push of the leader's gripper against a grasp;
- :mod:`.arm`: the leader's Feetech bus (torque off, one sync read per tick);
- :mod:`.app`: the asyncio loop, fault handling and reconnection; :mod:`.session` one
  connection and what it watches on the server; :mod:`.config` the settings;
  :mod:`.status` the status line; :mod:`.priority` the loop thread's priority;
- :mod:`.hand`: an emulated arm in its own process, moved by a scripted hand (tests,
  benchmarks, demos).
"""
