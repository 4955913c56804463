"""What an import raises: a refusal the user can act on, and one member that cannot be read."""

from __future__ import annotations

from lepton.i18n import Message


class DatasetImportError(ValueError):
    """The file cannot become a dataset; the message (a `Message`) says why and what to do."""


class Unreadable(Exception):
    """One member cannot be read; it is skipped and reported."""


def reason_of(error: Exception) -> str:
    """`str(error)`, as its Message when it has one, so a message quoting it renders in the
    same language."""
    if len(error.args) == 1 and isinstance(error.args[0], Message):
        return error.args[0]
    return str(error)
