"""The embedded DuckDB warehouse file, shared by the API server and the workers of one host: taking turns.

DuckDB lets one process hold a database file read-write, or several processes hold it
read-only, and refuses a conflicting open at once, without waiting ("Could not set lock on
file ...: Conflicting lock is held in <program> (PID n)"). Within one process, every connection
to a file must share one configuration: a read-only and a read-write connection at once are
refused ("different configuration"). Who opens the file: the API server (the Readiness page and
the readiness API read it per request, read-only; a pushed result writes it) and the workers'
tasks (the audit's ``publish``, the ledgers of the emails, alerts and cost watch: read-write).

So every connection a :class:`~oncall_readiness.warehouse.Warehouse` opens to a DuckDB file
takes its turn (:func:`take_turns`), within one wait (``TASK_WAIT`` for a task,
``REQUEST_WAIT`` for an HTTP request):

1. **In this process**, readers together or one writer, first come first served: a push waits
   for the reads under way, and the reads that come after it wait for the push (none is refused
   for "different configuration"); two pushes never write at once (DuckDB would refuse the second
   for a write-write conflict, e.g. both creating the ``external_results`` ledger). A thread that
   already holds a connection joins at once.
2. **Between processes**, a turnstile beside the file (``<file>.lock``, an advisory ``flock``): a
   writer holds it while it waits for the file (at most ``CLAIM`` seconds), so the readers
   arriving after it queue behind it instead of keeping the file busy with overlapping
   requests; a reader only passes through it.
3. **The open**, retried with backoff (5 ms, doubling to 100 ms, jittered) while another process
   holds the file.

The file is held only while a connection is open: a Warehouse's connections close when it is
disposed, which the API server does after each request and a task after each step. Past the
wait: :class:`~oncall_readiness.errors.WarehouseBusy`, saying how long it waited and which
process holds the file. PostgreSQL (and any other database) is left alone: its server does this.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from oncall_readiness.errors import WarehouseBusy

T = TypeVar("T")

log = logging.getLogger(__name__)

TASK_WAIT = 60.0  # seconds a worker's task waits for the file: a publish of 2,000 teams holds it ~3 s
REQUEST_WAIT = 15.0  # seconds an API or page request waits, then 503 with Retry-After
CLAIM = 5.0  # seconds a waiting writer keeps new readers behind it (a file held longer is held by someone else)
LOCK_SUFFIX = ".lock"
# DuckDB's words for "held elsewhere": by another process, or in this one with another configuration.
HELD = ("could not set lock on file", "conflicting lock", "different configuration")


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: ``first``, doubling up to ``longest``, each jittered to half to all of it."""

    first: float = 0.005
    longest: float = 0.1
    factor: float = 2.0

    def delays(self, jitter: Callable[[], float] = random.random) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay * (0.5 + jitter() / 2)  # waiters that collided do not retry in step
            delay = min(delay * self.factor, self.longest)


def retry(
    attempt: Callable[[], T],
    *,
    retryable: Callable[[Exception], bool],
    until: float,
    backoff: Backoff = Backoff(),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``attempt()``, again after each error ``retryable`` accepts, with ``backoff``, while ``clock() < until``.

    An error it does not accept is raised at once; past ``until`` the last error is raised. The
    last sleep is cut to end at ``until``, so the wait is bounded by it, not by the backoff.
    """
    for delay in backoff.delays():
        try:
            return attempt()
        except Exception as error:
            left = until - clock()
            if not retryable(error) or left <= 0:
                raise
            sleep(min(delay, left))
    raise AssertionError("Backoff.delays never ends")


def held_elsewhere(error: Exception) -> bool:
    """DuckDB refused the open because the file is held (another process, or another configuration here)."""
    message = str(error).lower()
    return any(words in message for words in HELD)


class Turns:
    """In one process, the connections to one file: readers together or one writer, first come first served.

    ``enter`` waits while someone came first, or a connection of another configuration is open, or
    (``alone``: a writer) any other connection is; consecutive readers of one configuration enter
    together. A thread that holds a connection already joins at once with the same configuration,
    and is refused another (it would wait for itself).
    """

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.RLock())  # RLock: a connection collected unclosed leaves
        self._mode: tuple[tuple[str, str], ...] | None = None
        self._alone = False
        self._open = 0
        self._queue: deque[object] = deque()
        self._threads: Counter[int] = Counter()

    def enter(
        self, mode: tuple[tuple[str, str], ...], *, alone: bool, until: float, clock: Callable[[], float]
    ) -> bool:
        """Count one more connection of ``mode``; True when this thread held one already (nothing to wait for)."""
        thread = threading.get_ident()
        with self._changed:
            if self._threads[thread]:
                if mode != self._mode:
                    raise RuntimeError(
                        "This thread holds a connection to the DuckDB warehouse file with another configuration "
                        "(read-only and read-write): close it (dispose its Warehouse) before opening this one."
                    )
                self._join(thread)
                return True
            ticket = object()
            self._queue.append(ticket)
            try:
                while not (self._queue[0] is ticket and self._may_enter(mode, alone)):
                    left = until - clock()
                    if left <= 0:
                        raise WarehouseBusy("connections of another configuration stayed open in this process")
                    self._changed.wait(left)
            finally:
                self._queue.remove(ticket)
                self._changed.notify_all()  # the next in line may share this configuration
            self._mode, self._alone = mode, alone
            self._join(thread)
            return False

    def _may_enter(self, mode: tuple[tuple[str, str], ...], alone: bool) -> bool:
        return self._open == 0 or (mode == self._mode and not alone and not self._alone)

    def _join(self, thread: int) -> None:
        self._open += 1
        self._threads[thread] += 1

    def leave(self, thread: int) -> None:
        with self._changed:
            self._open -= 1
            self._threads[thread] -= 1
            if self._threads[thread] <= 0:
                del self._threads[thread]
            if self._open == 0:
                self._mode, self._alone = None, False
            self._changed.notify_all()


class Turnstile:
    """``<file>.lock``: a writer holds it (``flock``) while it waits for the file; a reader passes through.

    Advisory, between the processes of one host that open the file through a Warehouse; a
    folder the process may not write (no lock file) leaves only the retries.
    """

    def __init__(self, database: str) -> None:
        self.path = database + LOCK_SUFFIX

    @contextmanager
    def held(self, *, until: float, clock: Callable[[], float]) -> Iterator[None]:
        fd = self._open()
        try:
            if fd is not None:
                try:
                    retry(
                        lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB),
                        retryable=lambda error: isinstance(error, BlockingIOError),
                        until=until,
                        clock=clock,
                    )
                except BlockingIOError:
                    raise WarehouseBusy("another writer kept its claim on the file's turnstile") from None
            yield
        finally:
            if fd is not None:
                os.close(fd)  # releases the flock

    def _open(self) -> int | None:
        for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
            try:
                return os.open(self.path, flags | os.O_CLOEXEC, 0o666)
            except OSError:
                continue
        log.debug("No turnstile %s (the folder is not writable): the opens only retry", self.path)
        return None


class WarehouseFile:
    """One DuckDB file as this process sees it: its turns here and its turnstile between processes."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.turns = Turns()
        self.turnstile = Turnstile(database)

    def connect(
        self,
        open_connection: Callable[[], Any],
        *,
        mode: tuple[tuple[str, str], ...],
        writer: bool,
        wait: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> Any:
        """``open_connection()`` in its turn; the connection leaves its turn when closed (or collected)."""
        started = clock()
        until = started + wait
        thread = threading.get_ident()
        try:
            joined = self.turns.enter(mode, alone=writer, until=until, clock=clock)
        except WarehouseBusy as busy:
            raise self._busy(clock() - started, str(busy)) from None
        try:
            if joined:  # the file is open in this thread already: no lock to take
                connection = open_connection()
            elif writer:
                connection = self._open_claimed(open_connection, until=until, clock=clock)
            else:
                with self.turnstile.held(until=until, clock=clock):
                    pass  # behind any writer that waits
                connection = self._open(open_connection, until=until, clock=clock)
        except WarehouseBusy as busy:
            self.turns.leave(thread)
            raise self._busy(clock() - started, str(busy)) from None
        except BaseException:
            self.turns.leave(thread)
            raise
        return _leaving_on_close(connection, lambda: self.turns.leave(thread))

    def _open_claimed(self, open_connection: Callable[[], Any], *, until: float, clock: Callable[[], float]) -> Any:
        """A writer: claim the turnstile, wait for the readers under way; after ``CLAIM`` s, wait unclaimed."""
        with self.turnstile.held(until=until, clock=clock):
            try:
                return self._open(open_connection, until=min(until, clock() + CLAIM), clock=clock)
            except WarehouseBusy:
                if clock() >= until:
                    raise
        return self._open(open_connection, until=until, clock=clock)

    def _open(self, open_connection: Callable[[], Any], *, until: float, clock: Callable[[], float]) -> Any:
        try:
            return retry(open_connection, retryable=held_elsewhere, until=until, clock=clock)
        except Exception as error:
            if held_elsewhere(error):
                raise WarehouseBusy(f"DuckDB: {error}") from None
            raise

    def _busy(self, waited: float, why: str) -> WarehouseBusy:
        return WarehouseBusy(f"The DuckDB warehouse {self.database} was not free after {waited:.1f} s: {why}")


def _leaving_on_close(connection: Any, leave: Callable[[], None]) -> Any:
    """``connection`` whose ``close()`` (or its collection, when never closed) also leaves its turn, once."""
    left = weakref.finalize(connection, leave)
    left.atexit = False
    close = type(connection).close
    ref = weakref.ref(connection)

    def close_and_leave() -> None:
        try:
            target = ref()
            if target is not None:
                close(target)
        finally:
            left()

    connection.close = close_and_leave
    return connection


_FILES: dict[str, WarehouseFile] = {}
_FILES_LOCK = threading.Lock()


def _reset_after_fork() -> None:
    """A forked task starts with no connection open: none of its parent's turns (or their locks) apply."""
    global _FILES_LOCK
    _FILES.clear()
    _FILES_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def warehouse_file(database: str) -> WarehouseFile:
    """The process's one :class:`WarehouseFile` of ``database`` (by its real path)."""
    path = os.path.realpath(database)
    with _FILES_LOCK:
        if path not in _FILES:
            _FILES[path] = WarehouseFile(path)
        return _FILES[path]


def is_file(url: sa.URL) -> bool:
    """A DuckDB database in a local file (not ``:memory:``, not MotherDuck's ``md:``)."""
    database = url.database or ""
    remote = database.startswith(("md:", "motherduck:"))
    return url.get_backend_name() == "duckdb" and database not in ("", ":memory:") and not remote


def take_turns(engine: sa.Engine, *, wait: float) -> None:
    """Every connection ``engine`` opens to its DuckDB file takes its turn (above); another database: nothing."""
    url = engine.url
    if not is_file(url):
        return
    database = os.path.realpath(str(url.database))
    mode = tuple(sorted((str(key), str(value)) for key, value in url.query.items()))
    writer = dict(mode).get("access_mode", "").lower() != "read_only"

    @sa.event.listens_for(engine, "do_connect")
    def connect(dialect: Any, record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
        file = warehouse_file(database)  # looked up now: a forked process has turns of its own
        return file.connect(lambda: dialect.connect(*cargs, **cparams), mode=mode, writer=writer, wait=wait)
