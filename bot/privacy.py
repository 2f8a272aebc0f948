"""Retention and the right to be forgotten, on the tracker store in an endpoints file.

    python -m bot.privacy forget-older [--days 30] [--endpoints endpoints.yml]
    python -m bot.privacy forget SENDER_ID [--endpoints endpoints.yml]

(`make forget-older DAYS=30`, `make forget SENDER=...`.) Works on SQLite and PostgreSQL alike;
the person can also ask the assistant itself ("delete my conversation", data/rules/privacy.yml).
Prints counts only, never conversation content.
"""

from __future__ import annotations

import argparse

from rasa.utils.endpoints import read_endpoint_config

from bot.tracker_store import PrivateSQLTrackerStore

DEFAULT_RETENTION_DAYS = 30


def open_store(endpoints_file: str) -> PrivateSQLTrackerStore:
    config = read_endpoint_config(endpoints_file, "tracker_store")
    if config is None:
        raise SystemExit(f"{endpoints_file} has no tracker_store")
    settings = {k: v for k, v in config.kwargs.items() if k != "type"}
    return PrivateSQLTrackerStore(host=config.url, **settings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", default="endpoints.yml")
    commands = parser.add_subparsers(dest="command", required=True)
    older = commands.add_parser("forget-older", help="delete conversations older than N days")
    older.add_argument("--days", type=float, default=DEFAULT_RETENTION_DAYS)
    one = commands.add_parser("forget", help="delete one sender's conversation")
    one.add_argument("sender_id")
    args = parser.parse_args(argv)
    store = open_store(args.endpoints)
    if args.command == "forget-older":
        senders, events = store.delete_older_than(args.days)
        print(f"Deleted {senders} conversations ({events} events) older than {args.days:g} days.")
    else:
        events = store.delete_sender(args.sender_id)
        print(f"Deleted {events} events of that sender." if events else "No conversation stored for that sender.")


if __name__ == "__main__":
    main()
