"""specsync: avatar videos as code, validated, planned and applied against AI Studios."""

__version__ = "0.1.0"
