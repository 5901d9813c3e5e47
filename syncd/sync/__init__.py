"""The pure core: snapshots + links + policy in, a plan out (no IO imports here)."""
