"""Option sets: frozen, validated dataclasses whose fields describe themselves (help, choices).

Each public function with several options (``register``, ``deconvolve``, ...) has one such class; the function
builds it from its keywords, so the options are validated in one place before any work. The batch pipeline
composes them into its configuration, and the command line is generated from their fields.
"""

import dataclasses

__all__ = ["option", "Options"]


def option(default, *, help, choices=None, cli=True):
    """
    A dataclass field of an `Options` class, with its help text and allowed values.

    Parameters
    ----------
    default : object
        The default value (immutable).
    help : str
        One line for docstrings and the command line's ``--help``.
    choices : tuple, optional
        The allowed values, where they are a fixed set (registries give theirs).
    cli : bool
        False for options that have no command-line flag.
    """
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices, "cli": cli})


@dataclasses.dataclass(frozen=True, kw_only=True)
class Options:
    """
    Base of the option sets: subclasses are ``@dataclasses.dataclass(frozen=True, kw_only=True)`` with
    fields made by `option`, and check (and may normalise, through ``object.__setattr__``) their values in
    ``_validate``, which ``__post_init__`` calls, raising `ValueError` or `TypeError` naming the option.
    """

    def __post_init__(self):
        self._validate()

    def _validate(self):
        """Check every field; raise `ValueError` or `TypeError` naming the option and its value."""

    @classmethod
    def fields(cls):
        """The option fields, in declaration order."""
        return dataclasses.fields(cls)

    def replace(self, **changes):
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def as_dict(self):
        """The options as a plain dict (for settings hashes and reports)."""
        return dataclasses.asdict(self)
