"""Loopback emulators of the WHMCS API and the WordPress users API, for tests, benchmarks and the demo.

``whmcs.WhmcsEmulator`` and ``wordpress.WordPressEmulator`` each answer one request at a time
(``respond``); ``server`` reaches them in process or over loopback HTTP; ``python -m
syncd.emulators whmcs|wordpress`` runs either as a process.
"""
