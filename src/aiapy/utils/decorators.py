"""Decorators shared by the package, at the module path aiapy 0.12 uses (``aiapy.utils.decorators``)."""

from aiapy.utils.channels import validate_channel

__all__ = ["validate_channel"]
