"""Rich renderings of analyses for the command line; each module renders one command."""
