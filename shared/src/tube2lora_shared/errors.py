"""The two ways a command ends badly, mapped to the stage contract's exit codes."""


class UsageError(Exception):
    """Bad usage or configuration: exit 2, one line naming the key or file and what to do."""

    exit_code = 2


class StageError(Exception):
    """The stage could not finish: exit 1, no manifest published, finished work kept."""

    exit_code = 1
