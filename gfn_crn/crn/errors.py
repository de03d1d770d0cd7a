"""Errors raised for bad user input to the CRN model."""

from __future__ import annotations


class CRNError(ValueError):
    """A CRN description is invalid.

    ``line`` (1-based) and ``text`` locate the culprit when the error comes from a file.
    """

    def __init__(self, message: str, line: int | None = None, text: str | None = None):
        self.reason = message
        self.line = line
        self.text = text
        if line is not None:
            message = f"line {line}: {message}" + (f"  [{text.strip()}]" if text else "")
        super().__init__(message)

    def at(self, line: int, text: str) -> "CRNError":
        """The same error, located at a line of a file."""
        return CRNError(self.reason, line, text)
