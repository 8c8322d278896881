"""One module per ``segkit`` subcommand; each defines ``register(subparsers)``."""

__all__: list[str] = []
