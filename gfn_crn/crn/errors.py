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
            shown = text.strip() if text else ""
            if len(shown) > 120:  # a 3,000-species line is not repeated in full
                shown = shown[:116] + " ..."
            message = f"line {line}: {message}" + (f"  [{shown}]" if shown else "")
        super().__init__(message)

    def at(self, line: int, text: str) -> "CRNError":
        """The same error, located at a line of a file."""
        return CRNError(self.reason, line, text)
