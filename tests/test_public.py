"""The public surface of ``../shared/DESIGN.md`` still works from where programs outside
this repository use it: the Python imports, and every command's ``--help``."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from teleop.cli import build_parser

PUBLIC = {
    "teleop.protocol": [
        "CameraFrame", "ClientMessage", "Command", "CommandMode", "ErrorCode", "ErrorReply",
        "Estop", "EstopAction", "EstopStatus", "Hello", "JointsCommand", "Lease", "LeaseAction",
        "LeaseStatus", "LoopStats", "MAX_MESSAGE_BYTES", "MAX_NAME_CHARS", "MAX_TASK_CHARS",
        "Message", "PROTOCOL_VERSION", "Ping", "Pong", "ProtocolError", "Record", "RecordAction",
        "RecordStatus", "RecordingInfo", "RobotInfo", "Role", "ServerMessage", "State",
        "VelocityCommand", "Welcome", "check_command_shape", "decode", "decode_from_server",
        "encode",
    ],
    "teleop.safety": [
        "Accepted", "AcceptedJoints", "AcceptedVelocity", "Event", "FilterState", "HoldReason",
        "MeasurementError", "Mode", "ReceivedJoints", "ReceivedVelocity", "RejectReason",
        "Rejection", "SafetyConfig", "SafetyConfigError", "SafetyCounters", "TickResult",
        "ToJointTarget", "reset_estop", "step", "trigger_estop",
    ],
    "teleop.recorder": [
        "DatasetError", "EpisodeCounts", "EpisodeSummary", "JournalError", "Recorder",
        "RecorderConfig", "RecorderError", "RecorderIOError", "RecorderInputError",
        "RecorderStateError", "RecordingStatus", "TickSample", "recover_path",
    ],
    "teleop.quality": [
        "CheckResult", "DatasetReadError", "DatasetView", "EpisodeData", "EpisodeVerdict",
        "JointLimits", "QualityError", "Status", "Thresholds", "ThresholdsError",
        "load_thresholds",
    ],
    "teleop.client": ["ClientError", "TeleopClient"],
    "robots": [
        "Camera", "CameraSpec", "CommandError", "CommandShapeError", "Frame", "GripperSpec",
        "JointSpec", "NonFiniteCommandError", "NotConnectedError", "Robot", "RobotConfigError",
        "RobotError", "RobotIOError", "RobotSpec", "RobotState", "make_robot", "register_robot",
        "robot_names",
    ],
}  # fmt: skip
"""Each public module and the names it gave before ``teleop/`` became packages."""

COMMANDS = {"serve", "gamepad", "leader", "emulate-bus", "calibrate", "recover", "verify",
            "ledger", "bench"}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_import_in_a_fresh_interpreter(module: str) -> None:
    names = ", ".join(PUBLIC[module])
    code = f"from {module} import {names}"
    if module == "robots":  # the one factory, as DESIGN.md shows it
        code += "\narm = make_robot('fake', cameras=())\nassert isinstance(arm, Robot)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(" ".join((*path, name)))
                found += _commands(sub, (*path, name))
    return found


def test_the_command_line_has_every_command() -> None:
    assert set(_commands(build_parser())) >= COMMANDS


@pytest.mark.parametrize("command", _commands(build_parser()))
def test_every_command_answers_help(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "teleop.cli", *command.split(), "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: teleop {command}")
    assert result.stderr == ""
