"""``python -m minilm ...`` is the ``minilm`` command (see ``minilm.cli``)."""

from minilm.cli import run

run()
