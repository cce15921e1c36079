"""Source images for the format tests: real sample headers, placed where a test wants.

The pixels are never needed (a SEG refers to its source images by their headers), so
the headers of a small sample CT are moved, turned and resized at will.
"""

from __future__ import annotations

import copy

import numpy as np
import pydicom

from circus_nb.dicom.sample import write_ct_series

# A turned stack: rows, columns and slices along none of the patient axes.
_A, _B = np.radians(20.0), np.radians(-35.0)
TURN = (np.array([[np.cos(_A), -np.sin(_A), 0], [np.sin(_A), np.cos(_A), 0], [0, 0, 1]])
        @ np.array([[1, 0, 0], [0, np.cos(_B), -np.sin(_B)], [0, np.sin(_B), np.cos(_B)]]))


def sample_headers(folder, n: int = 6) -> list[pydicom.Dataset]:
    """The headers of a small axial sample CT, head first (instance 1 at the top)."""
    series = write_ct_series(folder, n=n, size=16)
    return [pydicom.dcmread(p, stop_before_pixels=True)
            for p in sorted(series.folder.glob("*.dcm"))]


def placed(headers, *, rows: int = 12, columns: int = 20, spacing=(0.7, 0.9),
           pitch: float = 2.0, origin=(-10.0, 20.0, 30.0), turn=TURN
           ) -> list[pydicom.Dataset]:
    """Copies of ``headers`` as a stack of ``rows`` x ``columns`` images of ``spacing``
    (row spacing, column spacing: PixelSpacing), ``pitch`` mm apart along the normal."""
    row, column, normal = (np.asarray(turn)[:, i] for i in range(3))
    out = []
    for k, header in enumerate(headers):
        ds = copy.deepcopy(header)
        ds.Rows, ds.Columns = rows, columns
        ds.PixelSpacing = [float(spacing[0]), float(spacing[1])]
        ds.ImageOrientationPatient = [round(float(v), 12) for v in (*row, *column)]
        ds.ImagePositionPatient = [round(float(v), 9)
                                   for v in np.asarray(origin) - k * pitch * normal]
        ds.SliceThickness = pitch
        out.append(ds)
    return out


def moved(headers, by) -> list[pydicom.Dataset]:
    """Copies of ``headers`` shifted by ``by`` (x, y, z mm)."""
    out = []
    for header in headers:
        ds = copy.deepcopy(header)
        ds.ImagePositionPatient = [float(a) + b for a, b in zip(ds.ImagePositionPatient, by,
                                                                  strict=True)]
        out.append(ds)
    return out
