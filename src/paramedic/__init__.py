"""paramedic keeps single-location components recovering by themselves."""

__version__ = "0.1.0"
