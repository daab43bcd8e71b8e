"""Numbers shared by the command line and the server, kept in one light module so the
CLI can check arguments without loading the server."""

MAX_RATE_HZ = 500.0
"""Highest control loop rate, in [Hz]."""
