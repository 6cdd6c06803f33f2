"""What can be wrong with a database file, as one small exception tree.

    DatabaseProblem            the base the CLI catches: exit 2, one line
    ├── NoDatabase             missing (or an empty file) where one must already exist
    ├── NotAFile               a folder, or a path whose folder is a file
    ├── NotADatabase           not SQLite, damaged, or SQLite but not newsflow's
    ├── Unreadable             the operating system refuses to read (or write) it
    ├── DatabaseLocked         another connection kept it locked past the busy timeout
    └── NewerSchema            written by a newer newsflow: a migration or user_version unknown here

Every message starts with the file, then says the problem (and the way out, where there is one).
"""

from __future__ import annotations

from pathlib import Path


class DatabaseProblem(Exception):
    """A database file newsflow cannot use as it stands; nothing was written to it."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class NoDatabase(DatabaseProblem):
    """No database yet where a command needs one to read."""


class NotAFile(DatabaseProblem):
    """The path is a folder, or its folder is not one."""


class NotADatabase(DatabaseProblem):
    """The file is not a SQLite database, is damaged, or belongs to another program."""


class Unreadable(DatabaseProblem):
    """Permissions keep newsflow from reading (or, for a writing command, writing) the file."""


class DatabaseLocked(DatabaseProblem):
    """Another connection held a lock longer than the busy timeout."""


class NewerSchema(DatabaseProblem):
    """The schema was written by a newer newsflow than this one."""
