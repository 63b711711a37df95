"""Command-line interface: parses arguments and calls the Python API."""
