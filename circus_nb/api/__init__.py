"""The Python API users call: policy (privileges, validation) over the store and dicom layers."""

from .store import Store

__all__ = ["Store"]
