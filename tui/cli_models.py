"""`nextword-tui models rename|rm|export|import`: the models screen's actions, headless.

`nextword-tui models` alone still lists the saved models. Nothing here overwrites a model: rm moves
it to the trash in the data folder (kept 7 days), import and export refuse a name or folder that is
taken, and an import is validated exactly as a load is. Errors are NextwordErrors: one line on
stderr, exit status 2 (tui/cli.py).
"""

from __future__ import annotations

import argparse


def add_model_commands(models: argparse.ArgumentParser) -> None:
    """The subcommands of `models`; without one, `models` lists (its own set_defaults)."""
    actions = models.add_subparsers(dest="models_command", metavar="{rename,rm,export,import}")
    rename = actions.add_parser("rename", help="give a saved model a new name")
    rename.add_argument("model", metavar="NAME_OR_PATH", help="the model to rename")
    rename.add_argument("new_name", metavar="NEW_NAME", help="letters, digits, '.', '_' and '-' (at most 64)")
    rename.set_defaults(run=cmd_rename)

    remove = actions.add_parser("rm", help="move a saved model to the trash (kept 7 days)")
    remove.add_argument("model", metavar="NAME_OR_PATH", help="the model to delete")
    remove.set_defaults(run=cmd_rm)

    export = actions.add_parser("export", help="copy a saved model to a folder")
    export.add_argument("model", metavar="NAME_OR_PATH", help="the model to export")
    export.add_argument("destination", metavar="FOLDER",
                        help="a new folder, or an existing one to put the model's folder in")
    export.set_defaults(run=cmd_export)

    imported = actions.add_parser("import", help="copy a model folder into the models folder (validated first)")
    imported.add_argument("folder", metavar="FOLDER", help="a model folder (config.json, vocab.json, weights)")
    imported.add_argument("--name", help="the name to give it (default: the folder's own, made unique)")
    imported.set_defaults(run=cmd_import)


def cmd_rename(args: argparse.Namespace) -> int:
    from engine import rename_model

    print(f"Renamed to {rename_model(args.model, args.new_name).name}.")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    from engine import delete_model

    print(f"Moved to the trash (kept 7 days): {delete_model(args.model)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from engine import export_model

    print(f"Exported to {export_model(args.model, args.destination)}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from engine import import_model

    target = import_model(args.folder, name=args.name)
    print(f"Imported as {target.name} ({target})")
    return 0
