"""Deployment: the example files, the unit, secrets from credential files, root beside the service."""
