"""Train and test indices: the archive's own train/ and test/ folders, or a seeded split."""

from __future__ import annotations

import numpy as np

from lepton.i18n import message
from lepton.importer.errors import DatasetImportError


def check_classes(classes, labels, unreadable, duplicates) -> None:
    """Refuses a class none of whose pictures could be read."""
    for label, class_name in enumerate(classes):
        count = int(np.sum(labels == label))
        if count == 0:
            raise DatasetImportError(message("importer.class_unreadable", name=repr(class_name),
                                             unreadable=len(unreadable),
                                             duplicates=len(duplicates)))


def given_split(labels, parts, classes, seed: int):
    """The split of the train/ and test/ folders, training images shuffled (seeded)."""
    is_test = np.array([part == "test" for part in parts])
    train_index, test_index = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    train_index = np.random.default_rng(seed).permutation(train_index)
    missing = [classes[label] for label in range(len(classes))
               if label not in labels[train_index]]
    if missing:
        raise DatasetImportError(message("importer.no_training_folder_images",
                                         name=repr(missing[0])))
    return train_index, test_index


def stratified_split(labels, classes, test_fraction: float, seed: int):
    """Per class: shuffle (seeded), hold out round(n × fraction) ≥ 1 for testing, keep ≥ 1."""
    generator = np.random.default_rng(seed)
    train, test = [], []
    for label, class_name in enumerate(classes):
        indices = generator.permutation(np.flatnonzero(labels == label))
        if len(indices) < 2:
            raise DatasetImportError(message("importer.class_too_small", name=repr(class_name),
                                             count=len(indices)))
        held_out = min(max(1, round(len(indices) * test_fraction)), len(indices) - 1)
        test.extend(indices[:held_out])
        train.extend(indices[held_out:])
    # Shuffled: Keras takes its validation split from the end of the training arrays.
    return generator.permutation(np.array(train)), generator.permutation(np.array(test))
