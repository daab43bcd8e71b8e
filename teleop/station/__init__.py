"""What happens around an episode on the station, between the server and the disk.

- :mod:`.recording_link`: carries out the session's record effects on the
  :class:`~teleop.recorder.Recorder` in a worker thread, and describes the result;
- :mod:`.episode_close`: once an episode is saved, checks it, looks for a duplicate,
  signs its manifest and credits its operator in the ledger.
"""

from teleop.station.episode_close import close_episode, unclosed_episodes
from teleop.station.recording_link import Accounting, RecordingLink

__all__ = ["Accounting", "RecordingLink", "close_episode", "unclosed_episodes"]
