"""``python -m dashscope_core.emulator``: same as the ``dashscope-emulator`` command."""

from dashscope_core.emulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
