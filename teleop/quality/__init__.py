"""Quality of recorded episodes: checks and score, duplicate fingerprints, signatures.

``teleop.station.episode_close.close_episode`` runs all of it when an episode is saved;
``teleop verify`` runs it again over a dataset; the fleet hub will run the same code on
what stations upload. ``docs/quality.md`` describes every check, threshold and file.

- :mod:`.assess` runs the checks on one episode (:mod:`.motion_checks`,
  :mod:`.timing_checks`, :mod:`.video_checks`, over :mod:`.episode_data`) and scores it
  (:mod:`.verdict`, with the thresholds of :mod:`.config`);
- :mod:`.duplicates`: an episode's fingerprint, and the search for an earlier episode
  it repeats;
- :mod:`.signing`: the station key and its Ed25519 signatures; :mod:`.manifest` the
  signed manifest of an episode's files; :mod:`.verify` checks a dataset from outside;
- :mod:`.store` (where the station's files go), :mod:`.activity` (time the arm moved,
  for the ledger).
"""

from teleop.quality.config import Thresholds, load_thresholds
from teleop.quality.episode_data import DatasetView, EpisodeData, JointLimits
from teleop.quality.errors import DatasetReadError, QualityError, ThresholdsError
from teleop.quality.verdict import CheckResult, EpisodeVerdict, Status

__all__ = [
    "CheckResult",
    "DatasetReadError",
    "DatasetView",
    "EpisodeData",
    "EpisodeVerdict",
    "JointLimits",
    "QualityError",
    "Status",
    "Thresholds",
    "ThresholdsError",
    "load_thresholds",
]
