"""What a run leaves behind, as a library: loading a trained generator back from a run directory,
sampling it, and the command-line options and builders that commands (ganforge's and plugins') share."""
