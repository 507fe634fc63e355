"""The package version, in one place (the root package, the CLI, the doctor and the runtime wheel read it)."""

__version__ = "0.1.0"
