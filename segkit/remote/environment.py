"""How the extra environment variables of a remote run (``--env``) reach the remote process
without being seen on the way.

Values may be secrets (API tokens, passwords), so they never go on a command line, where
``ps`` on the remote machine would show them to every user: :func:`env_script` turns them into
a POSIX shell script that is sent over the SSH channel's *stdin*, and the remote command starts
with :data:`READ_ENV`, which reads that script and exports the variables into the shell, so
only the processes it starts inherit them. Nothing is written to a file. Wherever segkit shows
or records the environment it is masked (:func:`mask_env`: ``KEY=***``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

__all__ = ["READ_ENV", "MASK", "env_script", "mask_env", "format_env"]

# The start of a remote command that receives its environment on stdin (a script from
# env_script). The shell's own argv holds only these characters, never a value.
READ_ENV = 'eval "$(cat)"'
MASK = "***"


def env_script(env: Mapping[str, str]) -> bytes:
    """``NAME='value'; export NAME`` lines for :data:`READ_ENV` (names are checked by
    :class:`~segkit.remote.config.RemoteConfig`; values are quoted for the shell)."""
    lines = [f"{name}={shlex.quote(value)}; export {name}" for name, value in sorted(env.items())]
    return ("\n".join(lines) + "\n").encode("utf-8")


def mask_env(env: Mapping[str, str]) -> dict[str, str]:
    """``{name: "***"}``: what may be shown or written of an environment."""
    return {name: MASK for name in sorted(env)}


def format_env(env: Mapping[str, str]) -> str:
    """``A=*** B=***`` for messages."""
    return " ".join(f"{name}={MASK}" for name in sorted(env))
