"""Reads kfp.local's log stream and prints one line per pipeline stage.

kfp.local logs `Executing task 'x'` and `Task 'x' finished with status SUCCESS|FAILURE`
for every attempt of every task (a retry or a loop iteration starts the same task again)
and says nothing about a cache hit. A task that never started although a task depending on
it did came from the cache: the reader numbers it in the sequence as cached.
"""

from __future__ import annotations

import re
import time

from sealtrain.components.core.constants import RUN_COMPLETED, RUN_FAILED
from sealtrain.components.core.isolation import SpecGraph

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TASK_START = re.compile(r"Executing task '([\w-]+)'")
TASK_END = re.compile(r"Task '([\w-]+)' finished with status (\w+)")
ERROR_LINE = re.compile(r"^\s*(?:[\w]+\.)*(\w*(?:Error|Exception)): (.*)$")
PROGRESS_PREFIX = "[sealtrain] "
# finalize-run reports the pipeline's final state in KFP's words; the CLI speaks the run table's.
FINAL_STATE = re.compile(r"^(run \S+ finished: )(\w+)")
KFP_STATES = {"SUCCESS": RUN_COMPLETED, "SUCCEEDED": RUN_COMPLETED, "FAILURE": RUN_FAILED, "FAILED": RUN_FAILED}
INDENT = "      "


def stages(spec: dict) -> tuple[list[str], dict[str, set[str]]]:
    """The container tasks of a pipeline spec by name, in dependency order, and what each waits for."""
    graph = SpecGraph(spec)
    leaves = graph.leaf_tasks()
    names = {task.path: task.name for task in leaves}
    upstream = {t.name: {names[p] for p in graph.upstream(t.path)} for t in leaves}
    # A task waits for strictly more tasks than anything it waits for: a topological order.
    return sorted(upstream, key=lambda name: (len(upstream[name]), name)), upstream


class Progress:
    """Turns kfp.local's log lines into numbered stage lines, and remembers the failure.

    Attributes:
        cached: Tasks inferred to have come from the cache, in pipeline order.
    """

    def __init__(self, tasks: list[str], upstream: dict[str, set[str]], emit=print):
        """
        Args:
            tasks: The container tasks of the pipeline by name, in pipeline order.
            upstream: For each task, the tasks that finish before it starts.
            emit: Where the lines go (one string per call).
        """
        self.tasks, self.upstream, self.emit = tasks, upstream, emit
        self.cached: list[str] = []
        self._numbered = 0
        self._running: dict[str, list[float]] = {}
        self._started: set[str] = set()
        self._failures: dict[str, str | None] = {}  # task -> its error, until it starts again
        self._last_error: str | None = None

    def feed(self, raw: str) -> None:
        """Consumes one line of the child's output."""
        line = ANSI.sub("", raw).rstrip("\n")
        if match := TASK_START.search(line):
            self._start(match.group(1))
        elif match := TASK_END.search(line):
            self._end(*match.groups())
        elif PROGRESS_PREFIX in line:
            message = line.split(PROGRESS_PREFIX, 1)[1]
            if match := FINAL_STATE.match(message):
                state = KFP_STATES.get(match.group(2), match.group(2).lower())
                message = match.group(1) + state + message[match.end():]
            self.emit(INDENT + message)
        elif match := ERROR_LINE.match(line):
            self._last_error = f"{match.group(1)}: {match.group(2)}"

    def finish(self, succeeded: bool) -> None:
        """Ends the stream; after a successful run every task that never started was cached."""
        if succeeded:
            self._mark_cached(self.tasks)

    def _start(self, name: str) -> None:
        self._last_error = None
        if name in self._failures:
            del self._failures[name]
            self.emit(f"{INDENT}{name}: retrying")
        elif name in self._started:
            self.emit(f"{INDENT}{name}: started again (another loop iteration)")
        else:
            if not self._failures:  # after a failure, tasks that never ran were skipped, not cached
                self._mark_cached([t for t in self.tasks if t in self.upstream.get(name, ())])
            self._started.add(name)
            self._numbered += 1
            self.emit(f"[{self._numbered}/{len(self.tasks)}] {name} ...")
        self._running.setdefault(name, []).append(time.monotonic())

    def _end(self, name: str, status: str) -> None:
        starts = self._running.get(name) or [time.monotonic()]
        took = time.monotonic() - starts.pop(0)
        self.emit(f"{INDENT}{name}: {KFP_STATES.get(status, status.lower())} ({took:.1f}s)")
        if KFP_STATES.get(status) == RUN_FAILED:
            self._failures[name] = self._last_error

    def _mark_cached(self, candidates: list[str]) -> None:
        for name in candidates:
            if name not in self._started and name not in self.cached:
                self.cached.append(name)
                self._numbered += 1
                self.emit(f"[{self._numbered}/{len(self.tasks)}] {name}: cached")

    @property
    def started(self) -> set[str]:
        """The tasks that started (at least once)."""
        return set(self._started)

    @property
    def failure(self) -> tuple[str, str | None] | None:
        """The first task whose last attempt failed, with the last exception line it logged; or None."""
        return next(iter(self._failures.items()), None)
