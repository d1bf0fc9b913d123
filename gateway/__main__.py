"""``python -m gateway`` is the ``voicegw`` command."""

from gateway.cli import main

main()
