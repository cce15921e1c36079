"""Synthetic sample studies, written with pydicom: data for demos and tests.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     [s.key for s in write_sample_studies(folder, ct_size=32)][:2]
['chest_ct_localizer', 'chest_ct_feet_first']

See :mod:`circus_nb.dicom.sample` for what each series teaches.
"""

from .dicom.sample import SampleSeries, write_ct_series, write_sample_studies

__all__ = ["SampleSeries", "write_ct_series", "write_sample_studies"]
