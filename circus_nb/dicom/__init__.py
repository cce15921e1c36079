"""DICOM files: headers, archives, import, pixels and sample data (pydicom only here)."""
