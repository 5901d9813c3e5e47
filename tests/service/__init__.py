"""Tests of the daemon's machinery: logs, systemd notify, metrics, the Daemon, the unit file."""
