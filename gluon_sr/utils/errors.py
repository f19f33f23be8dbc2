"""The one exception type that CLIs turn into a one-line message and exit code 2."""
import argparse
import os
import sys


class GluonSRError(Exception):
    """A problem with the user's input (file, flag, params) that deserves a plain message."""


class ImageTooLarge(GluonSRError):
    """An input refused for its size (from its header, before decoding)."""


def run_cli(main):
    """Run `main()`; user errors become `error: ...` on stderr and exit 2, never a traceback.

    Set GLUON_SR_DEBUG=1 to see the traceback of unexpected errors.
    """
    from gluon_sr.utils.logs import setup_logging

    setup_logging()
    try:
        code = main()
    except GluonSRError as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - last resort, so that users never see a traceback
        if os.environ.get("GLUON_SR_DEBUG"):
            raise
        print(f"internal error: {type(e).__name__}: {one_line(e)} (set GLUON_SR_DEBUG=1 for "
              "details)", file=sys.stderr)
        sys.exit(1)
    sys.exit(code or 0)


def one_line(message):
    """A message as one line: line breaks (in a file name, say) are shown escaped."""
    return str(message).replace("\r", "\\r").replace("\n", "\\n")


def describe(exc, limit=160):
    """A one-line summary of an exception; MXNet's own messages embed a C++ traceback."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("MXNetError:"):
            return line[len("MXNetError:"):].strip()[:limit]
    useful = [line for line in lines if not line.startswith(("Traceback", "File ", "Stack trace"))]
    return useful[0][:limit] if useful else type(exc).__name__


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are GluonSRErrors: one line from run_cli, exit code 2
    (argparse's own would print the whole usage block first)."""

    def error(self, message):
        raise GluonSRError(message)
