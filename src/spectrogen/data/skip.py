"""The signal a source raises for one unusable file: `prepare` records it and goes on."""


class SkipFile(Exception):
    """One file (or stream) cannot be used; `reason` says why, in words a user can act on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
