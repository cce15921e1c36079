"""Field formats in and out: NIfTI (nibabel) and DICOM SEG (highdicom).

Arrays here are in the package's order, (z, y, x), placed in the patient by a
volume's ``affine`` (array indices to DICOM LPS millimetres); each module turns that
into what its format expects.
"""
