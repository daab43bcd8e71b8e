"""``teleop bench``: benchmarks that print each figure beside a reference measured in
the same run, on the same machine."""
