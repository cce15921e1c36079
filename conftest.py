"""What pytest collects from the package itself (its doctests).

``circus_nb/api/torch_dataset.py`` imports PyTorch, an optional extra: the package
imports it only when ``Dataset.torch()`` is called, so without PyTorch it is not
collected either (it holds no doctest).
"""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("torch") else ["circus_nb/api/torch_dataset.py"]
