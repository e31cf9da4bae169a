"""One module per ``tiktok-relay`` subcommand, each with ``add_arguments(parser)`` and ``main(args) -> int``."""
