"""A dataset as a ``torch.utils.data.Dataset`` (imported only by ``Dataset.torch()``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

if TYPE_CHECKING:
    from .datasets import Dataset


class CaseTensors(TorchDataset):
    """Item ``i`` of a :class:`~circus_nb.api.datasets.Dataset` as tensors.

    ``image`` (1, z, y, x) float32, ``label`` (L, z, y, x) bool over the dataset's
    ``label_names``, ``spacing`` (z, y, x) float64, ``case_id``, ``revision``.
    """

    def __init__(self, dataset: Dataset, transform: Callable[[dict], Any] | None = None):
        self.dataset = dataset
        self.transform = transform
        self.label_names = dataset.label_names

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        item = self.dataset[i]
        shape = item["image"].shape
        labels = np.zeros((len(self.label_names), *shape), bool)
        for channel, name in enumerate(self.label_names):
            if name in item["labels"]:
                labels[channel] = item["labels"][name]
        out = {"image": torch.from_numpy(item["image"])[None],
               "label": torch.from_numpy(labels),
               "spacing": torch.tensor(item["spacing"], dtype=torch.float64),
               "case_id": item["case_id"], "revision": item["revision"]}
        return out if self.transform is None else self.transform(out)
