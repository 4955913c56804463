"""Which zip member is a picture of which class, and whether train/ and test/ give the split."""

from __future__ import annotations

from lepton.i18n import message
from lepton.importer import limits
from lepton.importer.errors import DatasetImportError

SPLIT_FOLDERS = ("train", "test")


def layout(members, folders, ignored) -> dict:
    """Which member belongs to which class (and part); refuses a single or an empty class.

    Returns:
        {"files": [(path, info, class name, "train" | "test" | "all")], "classes": sorted
        class names, "given_split": whether train/ and test/ folders give the split}. Files
        outside a class folder are added to `ignored`.
    """
    paths = [parts for _, parts, _ in members]
    depth = 0  # skip common top folders: zipping the folder "pets" gives pets/cats/…
    while (paths and all(len(parts) > depth + 1 for parts in paths)
           and len({parts[depth] for parts in paths}) == 1
           and any(len(parts) >= depth + 3 for parts in paths)):
        depth += 1
    prefix = paths[0][:depth] if paths else []
    tops = {parts[depth].lower() for parts in paths if len(parts) > depth + 1}
    given_split = tops == set(SPLIT_FOLDERS) and all(len(parts) >= depth + 3 for parts in paths
                                                     if len(parts) > depth + 1)
    class_at = depth + 1 if given_split else depth
    files, classes = [], set()
    for path, parts, info in members:
        if len(parts) <= class_at + 1:
            ignored.append({"file": path, "reason": "not inside a class folder"})
            continue
        part = parts[depth].lower() if given_split else "all"
        files.append((path, info, parts[class_at], part))
        classes.add(parts[class_at])
    for parts in folders:  # a class folder without any file is an empty class
        if len(parts) == class_at + 1 and parts[:depth] == prefix:
            classes.add(parts[class_at])
    classes = sorted(classes)
    if not classes:
        raise DatasetImportError(message("importer.no_class_folders"))
    if len(classes) == 1:
        raise DatasetImportError(message("importer.single_class_folder", name=repr(classes[0])))
    if len(classes) > limits.MAX_CLASSES:
        raise DatasetImportError(message("importer.too_many_class_folders",
                                         count=f"{len(classes):,}",
                                         limit=f"{limits.MAX_CLASSES:,}"))
    counts = {name: 0 for name in classes}
    for _, _, class_name, _ in files:
        counts[class_name] += 1
    empty = [name for name, count in counts.items() if count == 0]
    if empty:
        raise DatasetImportError(message("importer.empty_class_folder", name=repr(empty[0])))
    return {"files": files, "classes": classes, "given_split": given_split}
