"""One module per ``segkit`` subcommand; each defines ``register(subparsers)``."""
