"""A run directory's housekeeping: one writer at a time, library noise kept out of the terminal.

* `WorkdirLock(workdir)`: an exclusive `fcntl.flock` on `workdir/.lock`, which holds the pid,
  host and command of the run. A second writer fails at once with one line naming the first;
  the operating system drops the lock when its process dies, so a killed run never blocks.
* `quiet_logging(workdir)`: orbax, absl, asyncio, TensorStore and JAX logging, Python warnings,
  exceptions in threads and "unraisable" exceptions (TensorStore callbacks into a closed event
  loop) go to `workdir/jaxnas.log` instead of stderr; the user sees jaxnas's own one-line notices
  and errors only.
* `notice(msg)`: one line on stderr (and in the log).
* `sigterm_interrupts()`: SIGTERM raises KeyboardInterrupt while training, so `kill -TERM` saves
  a checkpoint as Ctrl-C does.
* `trim_metrics(path, step)`: drop metrics lines past the step a run resumes from.
"""

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from jaxnas.errors import JaxnasError

LOCK = ".lock"
LOG = "jaxnas.log"
# Loggers whose records go to the log file only.
QUIET = ("absl", "orbax", "asyncio", "tensorstore", "etils", "jax", "jaxlib", "py.warnings",
         "jaxnas")

log = logging.getLogger("jaxnas")


class WorkdirError(JaxnasError):
    """A workdir that another run is using, or that cannot be written."""


def _holder(path):
    try:
        info = json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info.get("pid"):
        return "another process"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    return f"pid {info['pid']} on {info.get('host', '?')} since {since}: {info.get('command', '?')}"


class WorkdirLock:
    """Exclusive use of a workdir by one writing process; a context manager.

    `acquire` raises WorkdirError (one line) if another live process holds the lock, or if the
    workdir cannot be created or written. On filesystems without `flock` it logs and goes on.
    """

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.path = self.workdir / LOCK
        self._fd = None

    def acquire(self):
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise WorkdirError(f"cannot write to workdir {self.workdir}: "
                               f"{e.strerror or e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WorkdirError(f"{self.workdir} is in use by another jaxnas run "
                               f"({_holder(self.path)}); wait for it to end or use another "
                               f"workdir") from None
        except OSError as e:  # e.g. ENOLCK on some network filesystems
            log.info("cannot lock %s (%s); going on without a lock", self.path, e)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                "command": " ".join(sys.argv)[:300]}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError as e:
            os.close(fd)
            raise WorkdirError(f"cannot write to workdir {self.workdir}: "
                               f"{e.strerror or e}") from e
        self._fd = fd
        return self

    def release(self):
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        except OSError:
            pass
        os.close(self._fd)  # closing the descriptor drops the flock
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class _LogFile(logging.FileHandler):
    """A log file that never complains on stderr (e.g. when the disk is full)."""

    def handleError(self, record):
        pass


def install_quiet_logging(workdir):
    """Route library logging, warnings and stray exceptions to `workdir/jaxnas.log`; returns a
    function that undoes it. If the file cannot be opened (a read-only workdir) they are dropped.
    """
    try:
        handler = _LogFile(Path(workdir) / LOG, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    except OSError:
        handler = logging.NullHandler()
    saved = []
    for name in QUIET:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate, logger.level))
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.WARNING if name.startswith("jax") and name != "jaxnas"
                        else logging.INFO)
    stray = logging.getLogger("jaxnas.uncaught")

    def unraisable(u):
        stray.info("unraisable exception in %r", u.object,
                   exc_info=(u.exc_type, u.exc_value, u.exc_traceback))

    def thread_exception(a):
        if a.exc_type is SystemExit:
            return
        stray.info("exception in thread %s", getattr(a.thread, "name", "?"),
                   exc_info=(a.exc_type, a.exc_value, a.exc_traceback))

    old_hooks = sys.unraisablehook, threading.excepthook
    sys.unraisablehook, threading.excepthook = unraisable, thread_exception
    logging.captureWarnings(True)

    def undo():
        logging.captureWarnings(False)
        sys.unraisablehook, threading.excepthook = old_hooks
        for logger, handlers, propagate, level in saved:
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)
        handler.close()
    return undo


@contextlib.contextmanager
def quiet_logging(workdir):
    """`install_quiet_logging` for the duration of a `with` block."""
    undo = install_quiet_logging(workdir)
    try:
        yield
    finally:
        undo()


def notice(message):
    """One line for the user on stderr (and in the log)."""
    log.info(message)
    print(f"jaxnas: {message}", file=sys.stderr, flush=True)


def trim_metrics(path, step):
    """Keep the lines of a metrics log up to `step` (a run resumed from an older checkpoint
    writes the later ones again); a line cut short by a kill is dropped. Atomic rewrite."""
    path = Path(path)
    if not path.is_file():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("step", 0) <= step:
            keep.append(line)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in keep))
    os.replace(tmp, path)


@contextlib.contextmanager
def sigterm_interrupts():
    """Turn SIGTERM into KeyboardInterrupt inside the block, so both save a checkpoint."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
