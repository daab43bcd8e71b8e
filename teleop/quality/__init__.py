"""Quality checks on recorded episodes, their score, and the signed manifests.

``teleop.episode_close.close_episode`` runs all of it when an episode is saved;
``teleop verify`` runs it again over a dataset (``teleop.quality.assess`` runs the
checks on one episode). ``docs/quality.md`` describes every check, threshold and file.
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
