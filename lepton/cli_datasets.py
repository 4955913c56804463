"""`lepton datasets`: list, import (.zip of class folders or .npz) or delete datasets."""

from __future__ import annotations

from lepton.cli_common import EXIT_OK, UsageError, emit, progress
from lepton.ops import shape_text


def cmd_datasets(args, store) -> int:
    from lepton.data import delete_dataset, describe_datasets
    from lepton.importer import DatasetImportError, import_file

    if args.action != "list" and not args.target:
        raise UsageError(f"datasets {args.action} needs a "
                         f"{'file' if args.action == 'import' else 'dataset name'}.")
    if args.action == "import":
        if not args.name:
            raise UsageError("datasets import needs --name NAME, e.g. --name pets-32.")
        try:
            manifest = import_file(
                args.target, args.name, home=store.home, size=(args.size, args.size),
                channels=args.channels, digit_like=args.digit_like,
                test_fraction=args.test_fraction, seed=args.seed, overwrite=args.overwrite,
                on_progress=lambda fraction, text: progress(f"  {fraction:4.0%} {text}"),
            )
        except DatasetImportError as error:
            raise UsageError(str(error)) from None
        counts = manifest["counts"]
        emit(args, manifest, [
            f"imported {manifest['name']}: {counts['train']:,} train / {counts['test']:,} test "
            f"images of {shape_text(manifest['input_shape'])} in "
            f"{len(manifest['classes'])} classes ({', '.join(manifest['classes'])})",
            f"preprocessing: {manifest['preprocessing']}; {manifest['split']}",
            f"skipped: {counts['duplicates']} duplicates, {counts['unreadable']} unreadable, "
            f"{counts['ignored']} ignored",
            *(f"  unreadable {item['file']}: {item['reason']}" for item in manifest["unreadable"]),
        ])
        return EXIT_OK
    if args.action == "delete":
        try:
            delete_dataset(args.target, store.home)
        except ValueError as error:
            raise UsageError(str(error)) from None
        emit(args, {"deleted": args.target}, [f"deleted {args.target}"])
        return EXIT_OK
    datasets = describe_datasets(store.home)
    emit(args, {"datasets": datasets}, [
        f"{item['name']:<14} {'yes' if item['available'] else 'no ':<4} {item['where']}"
        for item in datasets
    ])
    return EXIT_OK
