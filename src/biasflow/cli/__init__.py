"""The ``biasflow`` command line (DESIGN.md, CLI contract).

Every command accepts ``--json`` (one JSON object on stdout; progress and logs on stderr). Bad input is
one line on stderr and exit status 2, never a traceback. Commands live one per module in this package and
register themselves on :data:`app` when imported below.
"""

from __future__ import annotations

import sys

import typer

try:  # typer ≥ 0.24 vendors click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover
    from click import exceptions as click_exc

from ..errors import BiasflowError

app = typer.Typer(
    name="biasflow",
    help="biasflow: the implicit bias of training linear networks — exact flows, predictions, sweeps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # help formatted by rich (panels, colour) on a terminal; plain text when piped or scripted, which
    # spares the ~0.3 s import of rich's markdown/console machinery (start-up in proportion to the work)
    rich_markup_mode="rich" if sys.stdout.isatty() else None,
)

# Command modules (each registers its commands on `app`).
from . import bias, lr, sweep, train  # noqa: E402,F401


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning every error into one line on stderr and a non-zero exit."""
    args = sys.argv[1:] if argv is None else argv
    try:
        rv = app(args=args, standalone_mode=False, prog_name="biasflow")
    except BiasflowError as e:
        print(f"biasflow: error: {e}", file=sys.stderr)
        return 2
    except click_exc.NoArgsIsHelpError:
        return 0
    except click_exc.UsageError as e:
        where = f" ({e.ctx.command_path})" if e.ctx is not None else ""
        msg = e.format_message().replace("\n", " ")
        print(f"biasflow: error{where}: {msg}; see --help", file=sys.stderr)
        return 2
    except getattr(click_exc, "Abort", ()):
        print("biasflow: aborted", file=sys.stderr)
        return 130
    except click_exc.ClickException as e:
        print(f"biasflow: error: {e.format_message()}", file=sys.stderr)
        return e.exit_code or 1
    except KeyboardInterrupt:
        print("biasflow: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("biasflow: error: out of memory; reduce the problem size", file=sys.stderr)
        return 1
    return int(rv or 0) if isinstance(rv, int) else 0
