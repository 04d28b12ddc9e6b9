"""Read an app's versioned SQL files (sql/<kind>/<name>_v<N>.sql)."""

from pathlib import Path


class SqlFolder:
    """The sql/ folder (or a folder below it) beside a module of an app."""

    def __init__(self, module_file, *subfolders):
        self.path = Path(module_file).resolve().parent.joinpath("sql", *subfolders)

    def read(self, name):
        """Return one file's text without its trailing semicolon and blanks.

        Applied files never change: a new version is a new file.
        """
        return (self.path / name).read_text().strip().rstrip(";").strip()
