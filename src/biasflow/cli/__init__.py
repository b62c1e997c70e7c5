"""The ``biasflow`` command line (reference: docs/reference/cli.md).

Every command accepts ``--json`` (one JSON object on stdout; progress and logs on stderr). Bad input is
one line on stderr and exit status 2, never a traceback; an environment failure (a read-only, full or
missing directory) is one line and exit status 1; an interrupt (Ctrl-C) exits with 130; a closed pipe on
stdout (``biasflow results DIR | head``) ends the command quietly with status 0, as Unix tools do.
"""

from __future__ import annotations

import errno
import os
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
    rich_markup_mode=None,  # help texts are plain text: "[run]" and "[grid]" are shown as written
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"biasflow {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_version, help="Print the biasflow version and exit."
    ),
) -> None:
    """biasflow: the implicit bias of training linear networks — exact flows, predictions, sweeps."""


def _plain_str_options() -> None:
    """Let a plain ``str`` option (or ``bool`` flag) keep its value without building a pydantic validator.

    Typer coerces option values through a pydantic ``TypeAdapter``; building the first one imports
    pydantic (≈0.2 s of a ``biasflow margin`` process). For an option annotated exactly ``str`` or
    ``bool`` with no custom parser or file type, that validator returns a ``str`` (``bool``) value
    unchanged, so such a value is passed through as is; any other value or annotation takes typer's own
    path. If typer's internals
    differ from what is expected here, nothing is changed.
    """
    try:
        from typer import _coercion
        from typer.core import _TyperParameter
    except ImportError:  # pragma: no cover - another typer layout
        return
    base = getattr(_coercion, "RuntimeParam", None)
    build = getattr(_coercion, "build_runtime_param", None)
    original = getattr(_TyperParameter, "get_runtime_param", None)
    if base is None or build is None or original is None or getattr(original, "_biasflow", False):
        return  # pragma: no cover

    class _Plain(base):
        def _coerce_value(self, value, param, ctx):
            if type(value) is self.annotation:
                return value
            return build(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)

    def get_runtime_param(self):
        desc = getattr(self, "type_descriptor", None)
        if (getattr(self, "_runtime_param", 0) is None and desc is not None and desc.annotation in (str, bool)
                and desc.file_annotation is None and getattr(desc.parameter_info, "parser", None) is None):
            self._runtime_param = _Plain(parameter_info=desc.parameter_info, annotation=desc.annotation)
        return original(self)

    get_runtime_param._biasflow = True
    _TyperParameter.get_runtime_param = get_runtime_param


_plain_str_options()

# Command modules (each registers its commands on `app`).
from . import bias, lr, sweep, train  # noqa: E402,F401

_EXIT = tuple(
    c for c in (getattr(typer, "Exit", None), getattr(click_exc, "Exit", None)) if isinstance(c, type)
)
_ABORT = tuple(
    c
    for c in (getattr(typer, "Abort", None), getattr(click_exc, "Abort", None))
    if isinstance(c, type)
)


def os_error_message(e: OSError) -> str:
    """One line for an environment failure: what failed, on which path, and what to do.

    >>> os_error_message(OSError(errno.EROFS, "Read-only file system", "/data/out/runs"))
    "cannot write '/data/out/runs': read-only file system; choose a writable --out directory"
    >>> os_error_message(FileNotFoundError(errno.ENOENT, "No such file or directory", "x.toml"))
    "'x.toml': no such file or directory; check the path"
    """
    where = f"{str(e.filename)!r}" if e.filename is not None else "a file"
    reason = (e.strerror or type(e).__name__).lower()
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"cannot write {where}: {reason}; choose a writable --out directory"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"cannot write {where}: {reason}; free some space or choose another --out directory"
    if e.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"{where}: {reason}; check the path"
    return f"{where}: {reason} (errno {e.errno})"


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that the final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # pragma: no cover - stdout without a file descriptor
        pass


def _err(line: str) -> None:
    try:
        print(line, file=sys.stderr, flush=True)
    except OSError:  # pragma: no cover - stderr itself is gone
        pass


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line each (``biasflow: warning: ...``), not Python's two-line form with source."""
    text = " ".join(str(message).split())
    _err(f"biasflow: warning: {text} ({category.__name__} at {os.path.basename(filename)}:{lineno})")


def _out_of_memory(e: BaseException) -> bool:
    """XLA reports exhausted memory as a runtime error, not a MemoryError."""
    text = str(e)
    return "RESOURCE_EXHAUSTED" in text or "Out of memory" in text or "out of memory" in text


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning every error into one line on stderr and a non-zero exit.

    The click/typer standalone machinery is bypassed on purpose: it turns ``EOFError`` into an abort with a
    blank line on stderr, ``KeyboardInterrupt`` into a silent exit, and a broken pipe into exit status 1.
    """
    import warnings

    args = sys.argv[1:] if argv is None else list(argv)
    command = typer.main.get_command(app)
    shown, warnings.showwarning = warnings.showwarning, _one_line_warning
    try:
        return _run(command, args)
    finally:
        warnings.showwarning = shown


def _run(command, args: list[str]) -> int:
    try:
        try:
            with command.make_context("biasflow", args) as ctx:
                rv = command.invoke(ctx)
        finally:
            sys.stdout.flush()  # a closed pipe shows up here when the output was buffered
    except _EXIT as e:
        return int(getattr(e, "exit_code", 0) or 0)
    except BiasflowError as e:
        _err(f"biasflow: error: {e}")
        return 2
    except click_exc.NoArgsIsHelpError as e:
        _err(str(e.format_message()) if e.ctx is None else e.ctx.get_help())
        return 0
    except click_exc.UsageError as e:
        where = f" ({e.ctx.command_path})" if e.ctx is not None else ""
        msg = e.format_message().replace("\n", " ")
        _err(f"biasflow: error{where}: {msg}; see --help")
        return 2
    except click_exc.ClickException as e:
        _err(f"biasflow: error: {e.format_message()}")
        return e.exit_code or 1
    except (KeyboardInterrupt, *_ABORT):
        _err("biasflow: interrupted")
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except MemoryError:
        _err("biasflow: error: out of memory; reduce the problem size")
        return 1
    except OSError as e:
        if e.errno == errno.EPIPE:
            _quiet_stdout()
            return 0
        _err(f"biasflow: error: {os_error_message(e)}")
        return 1
    except Exception as e:  # a defect in biasflow: one line, the traceback on request
        if os.environ.get("BIASFLOW_DEBUG"):
            raise
        if _out_of_memory(e):
            _err("biasflow: error: out of memory; reduce the problem size (n, --width, --steps, --num)")
            return 1
        first = (str(e).splitlines() or [""])[0][:300]
        _err(
            f"biasflow: internal error: {type(e).__name__}: {first} (a bug; run again with "
            "BIASFLOW_DEBUG=1 for the traceback and report it)"
        )
        return 70
    return int(rv or 0) if isinstance(rv, int) else 0
