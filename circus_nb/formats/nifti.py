"""NIfTI files of (z, y, x) arrays, with the affine NIfTI expects.

NIfTI indexes voxels (i, j, k) with i fastest, the reverse of the package's (z, y,
x), and its affine maps them to RAS millimetres (+x to the patient's right, +y to
the front), where DICOM's LPS has +x to the left and +y to the back. So the NIfTI
affine is the volume's with the index axes reversed and the first two patient
axes negated:

>>> import numpy as np
>>> lps = np.array([[0, 0, 0.5, -100], [0, 0.7, 0, -80], [2.5, 0, 0, 30], [0, 0, 0, 1]])
>>> ras_affine(lps)
array([[ -0.5,   0. ,   0. , 100. ],
       [  0. ,  -0.7,   0. ,  80. ],
       [  0. ,   0. ,   2.5,  30. ],
       [  0. ,   0. ,   0. ,   1. ]])
>>> bool(np.allclose(lps_affine(ras_affine(lps)), lps))
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..domain.labels import check_label_name
from ..domain.values import shown
from ..errors import CircusError, ValidationError

__all__ = ["lps_affine", "ras_affine", "read_label_map", "read_mask", "write_nifti"]

# (i, j, k) of NIfTI <-> (k, j, i) of the package; LPS <-> RAS negates x and y.
_REVERSE = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], float)
_FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])
# How near two grids' voxel centres must be to count as the same grid: far below a
# voxel, above float32 rounding of header values.
SAME_GRID_MM = 1e-3


def ras_affine(affine_zyx: np.ndarray) -> np.ndarray:
    """The NIfTI affine ((i, j, k) to RAS mm) of a volume's affine ((z, y, x) to LPS)."""
    return _FLIP @ np.asarray(affine_zyx, float) @ _REVERSE + 0.0  # no -0.0


def lps_affine(affine_ras: np.ndarray) -> np.ndarray:
    """The inverse of :func:`ras_affine`: a NIfTI affine as a (z, y, x) to LPS affine."""
    return _FLIP @ np.asarray(affine_ras, float) @ _REVERSE


def _nibabel() -> Any:
    try:
        import nibabel
    except ImportError:
        raise CircusError("Reading and writing NIfTI needs nibabel, which is not installed."
                          " Run `pip install 'circus-nb[nifti]'` (or `pip install nibabel`).",
                          field="format", value="nifti") from None
    return nibabel


def nifti_image(array_zyx: np.ndarray, affine_zyx: np.ndarray) -> Any:
    """A ``nibabel.Nifti1Image`` of a (z, y, x) array placed by a volume's affine.

    Both the qform and the sform hold the affine (code 1, scanner coordinates), and
    the units are millimetres, so every reader (nibabel, ITK, MONAI) places the
    voxels alike.
    """
    nibabel = _nibabel()
    affine = ras_affine(affine_zyx)
    image = nibabel.Nifti1Image(np.asarray(array_zyx).transpose(2, 1, 0), affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm")
    return image


def write_nifti(path: str | os.PathLike, array_zyx: np.ndarray, affine_zyx: np.ndarray
                ) -> Path:
    """Write a (z, y, x) array as a NIfTI file (``.nii`` or ``.nii.gz``); return its path."""
    path = Path(path)
    _nibabel().save(nifti_image(array_zyx, affine_zyx), path)
    return path


def read_mask(path: str | os.PathLike, shape_zyx: tuple[int, ...], affine_zyx: np.ndarray
              ) -> np.ndarray:
    """The values of a NIfTI file on the grid of a volume, as a (z, y, x) array.

    The file's voxels must be the volume's: the same shape and, after reordering or
    flipping its axes (which moves no voxel), the same place in the patient within
    1 micrometre. Nothing is resampled.

    Raises
    ------
    CircusError
        If the file cannot be read as NIfTI, or nibabel is missing.
    ValidationError
        If the file is not 3-D or its grid is not the volume's (saying how).
    """
    nibabel = _nibabel()
    try:
        image = nibabel.load(os.fspath(path))
        data = np.asanyarray(image.dataobj)
    except (OSError, ValueError, EOFError, nibabel.filebasedimages.ImageFileError) as e:
        raise CircusError(f"Cannot read {path} as NIfTI: {e}.", field="path",
                          value=str(path)) from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValidationError(f"{path} holds a {data.ndim}-D image {data.shape}; a mask of a"
                              " volume is 3-D.", field="path", value=data.shape)
    target = ras_affine(affine_zyx)
    orientations = nibabel.orientations
    turn = orientations.ornt_transform(orientations.io_orientation(image.affine),
                                       orientations.io_orientation(target))
    data = orientations.apply_orientation(data, turn)
    affine = image.affine @ orientations.inv_ornt_aff(turn, image.shape[:3])
    wanted = tuple(reversed(shape_zyx))
    if data.shape != wanted or not _same_grid(affine, target, wanted):
        raise ValidationError(
            f"{path} is not on the volume's grid: {_grid(data.shape, affine)} in the file,"
            f" {_grid(wanted, target)} in the volume. A mask is read only where its voxels"
            " are the volume's, so nothing is resampled; resample it onto the volume first"
            " (e.g. with nibabel.processing.resample_from_to).", field="path",
            value=str(path))
    return np.ascontiguousarray(data.transpose(2, 1, 0))


def _same_grid(a: np.ndarray, b: np.ndarray, shape_ijk: tuple[int, ...]) -> bool:
    """Whether the corner voxels of a grid of ``shape_ijk`` land within SAME_GRID_MM."""
    corners = np.array([[i, j, k, 1] for i in (0, shape_ijk[0] - 1)
                        for j in (0, shape_ijk[1] - 1) for k in (0, shape_ijk[2] - 1)], float)
    apart = np.abs(corners @ a.T - corners @ b.T)[:, :3]
    return bool(np.isfinite(apart).all() and apart.max() <= SAME_GRID_MM)


def _grid(shape_ijk: tuple[int, ...], affine: np.ndarray) -> str:
    """A short description of a grid: shape (z, y, x), spacing and first voxel (LPS)."""
    lps = lps_affine(affine)
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    origin = lps[:3, 3]
    return (f"{' x '.join(map(str, reversed(shape_ijk)))} voxels (z, y, x) of"
            f" {', '.join(f'{s:.4g}' for s in spacing)} mm from"
            f" ({', '.join(f'{v:.4g}' for v in origin)}) mm")


def check_label_value(value: Any) -> int:
    """A label value of a label map: an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValidationError(f"Label values of a label map are integers >= 1, got"
                              f" {shown(value)}.", field="names", value=value)
    return int(value)


def _default_names(path: str | os.PathLike, values: list[int]) -> dict[int, str]:
    """The file's stem for a mask (its only value is 1), else ``label<value>``."""
    if values == [1]:
        stem = Path(path).name
        for suffix in (".nii.gz", ".nii"):
            if stem.lower().endswith(suffix):
                stem = stem[:-len(suffix)]
        return {1: stem or "label1"}
    return {value: f"label{value}" for value in values}


def read_label_map(path: str | os.PathLike, shape_zyx: tuple[int, ...],
                   affine_zyx: np.ndarray, names: Any = None) -> list[tuple[str, np.ndarray]]:
    """``(name, bool mask (z, y, x))`` per non-zero value of a NIfTI mask or label map.

    The file is read on the volume's grid by :func:`read_mask` (never resampled).
    One mask per value present, in value order; ``names`` maps a value to its
    name (``{1: "liver", 2: "spleen"}``; values it names that the file lacks give
    nothing). A value without a name is ``label<value>``, except in a plain mask
    (only the value 1) without names, named after the file (``liver.nii.gz`` ->
    ``liver``).

    >>> import tempfile
    >>> from pathlib import Path
    >>> tmp = Path(tempfile.mkdtemp())
    >>> values = np.zeros((2, 3, 4), np.uint8); values[0, 0, :2] = 1; values[1, 2, 3] = 3
    >>> path = write_nifti(tmp / "organs.nii.gz", values, np.eye(4))
    >>> [(name, int(mask.sum())) for name, mask in read_label_map(path, (2, 3, 4), np.eye(4),
    ...                                                            names={3: "spleen"})]
    [('label1', 2), ('spleen', 1)]

    Raises
    ------
    ValidationError
        If ``names`` is not a dict of integers >= 1 to label names, the values are
        not whole numbers >= 0, or the file is not on the volume's grid.
    CircusError
        If the file cannot be read as NIfTI.
    """
    names = _check_names(names)
    data = read_mask(path, shape_zyx, affine_zyx)
    if data.dtype.kind == "b":
        data = data.astype(np.uint8)
    if data.dtype.kind not in "iuf":
        raise ValidationError(f"{path} holds {data.dtype} values; a mask or label map holds"
                              " whole numbers >= 0.", field="path", value=str(data.dtype))
    if data.dtype.kind == "f":
        odd = ~np.isfinite(data) | (data != np.round(data))
        if odd.any():
            raise ValidationError(f"{path} holds values that are not whole numbers (such as"
                                  f" {data[odd].flat[0]:g}); a mask or label map holds"
                                  " 0, 1, 2... Round or threshold it first.", field="path",
                                  value=float(data[odd].flat[0]))
    values = [int(v) for v in np.unique(data) if v != 0]
    if values and values[0] < 0:
        raise ValidationError(f"{path} holds the negative value {values[0]}; label values are"
                              " whole numbers >= 1 (0 is background).", field="path",
                              value=values[0])
    chosen = ({value: names.get(value, f"label{value}") for value in values} if names
              else _default_names(path, values))
    return [(chosen[value], data == value) for value in values]


def _check_names(names: Any) -> dict[int, str]:
    """``names`` as a dict of label values to label names (empty for ``None``)."""
    if names is None:
        return {}
    if not isinstance(names, dict):
        raise ValidationError(f"names maps label values to names, such as {{1: 'liver'}}, got"
                              f" {shown(names)}.", field="names", value=type(names).__name__)
    checked = {}
    for value, name in names.items():
        if not isinstance(name, str) or not name:
            raise ValidationError(f"names maps label values to names (text), got"
                                  f" {shown(name)} for {shown(value)}.", field="names",
                                  value=name)
        checked[check_label_value(value)] = check_label_name(name)
    return checked
