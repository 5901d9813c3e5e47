"""The daemon: APScheduler wiring, the run lock, signals and the systemd notify protocol."""
