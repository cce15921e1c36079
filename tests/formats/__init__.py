"""Tests of circus_nb.formats: labels in and out of NIfTI and DICOM SEG."""
