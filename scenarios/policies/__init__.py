"""The packaged scenario policies: one TOML file per scenario.

This directory is a package only so that setuptools ships its ``*.toml``
files as package data; load them with :func:`scenarios.load_policies`.
"""
