"""What pytest collects from the package itself (its doctests).

``circus_nb/api/torch_dataset.py`` imports PyTorch, an optional extra: the package
imports it only when ``Dataset.torch()`` is called, so without PyTorch it is not
collected either (it holds no doctest).

``circus_nb/app/widgets_tour.ipynb`` runs as ``notebooks/08_widgets_tour.ipynb`` (a link
to it), so nbval collects it there only.
"""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("torch") else ["circus_nb/api/torch_dataset.py"]
collect_ignore_glob = ["circus_nb/app/*.ipynb"]
