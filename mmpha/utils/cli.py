"""What the command-line tools share: turning input errors into messages."""
import contextlib
import sys
from typing import Iterator, Tuple, Type

from .checkpoint import CheckpointLoadError
from .state_dict_load import CheckpointMismatchError

#: Errors that describe bad input (a file, a checkpoint, a config value),
#: whose message says all there is to say: the tools print it and exit 1
#: instead of printing a traceback from deep inside the library.
INPUT_ERRORS: Tuple[Type[BaseException], ...] = (
    CheckpointLoadError,
    CheckpointMismatchError,
    FileNotFoundError,
)


@contextlib.contextmanager
def exit_on_input_error(*extra: Type[BaseException]) -> Iterator[None]:
    """Report :data:`INPUT_ERRORS` (and ``extra``) as ``error: MESSAGE``.

    The message goes to stderr and the process exits with status 1.

    Args:
        *extra (type): More exception types to report the same way.
    """
    try:
        yield
    except INPUT_ERRORS + tuple(extra) as err:
        sys.stderr.write(f'error: {type(err).__name__}: {err}\n')
        raise SystemExit(1) from err
