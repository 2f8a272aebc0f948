"""Rasa's command line with this project's declared Rasa patches installed first
(bot/rasa_speedups.py). It is how the project starts its Rasa servers:

    python -m bot.rasa_cli run -m models/trust.tar.gz --credentials credentials.yml ...

Everything after the module name is Rasa's own command line. `TRUST_RASA_SPEEDUPS=0`, or a
Rasa release other than the pinned one, runs Rasa exactly as `rasa ...` does.
"""

from __future__ import annotations

import sys

from bot import rasa_speedups


def main() -> None:
    rasa_speedups.install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
