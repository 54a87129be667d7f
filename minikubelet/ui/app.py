"""The dashboard: a Textual app over the daemon's API.

Layout, top to bottom: a status line (the server, connected or reconnecting, notices), the
pods table, the selected pod's panes (Containers, Logs, Events, Timeline: one at a time, so
it fits 80x24), the key line. Everything on screen comes from the API:

- the pods: one list, then a watch (``?watch=true``); when the stream ends or nothing
  answers, the dashboard says so, keeps the last pods on screen and relists with a growing
  pause (0.2 s to 2 s) until the daemon is back, which is how it survives a daemon restart;
- CPU and memory: ``/stats/summary`` every 2 s; the selected pod's trace and events: every
  second; its container's log: followed (``follow=true``), reopened for a new instance or
  after a reconnection, or the previous instance's (``previous=true``, ``p``);
- actions: DELETE (graceful, or ``gracePeriodSeconds: 0`` to kill), and minikubelet's
  ``POST …/restart?container=`` for one container.

All of it runs in Textual workers (asyncio tasks), each request with a timeout
(``client.REQUEST_TIMEOUT``): a slow daemon delays its own pane, never the keys. Colours are
the terminal's own (the ``ansi-dark`` theme, ANSI colours only), and Textual honours
``NO_COLOR``; the table never relies on colour alone (STATUS says what it is).

``quit`` leaves the daemon's pods alone. Under ``run --ui`` the run passes ``on_quit``:
quitting then stops the pods as Ctrl-C does (first gracefully, a second time at once), and
the run closes the dashboard once they are gone.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, cast

import anyio
from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import (
    DataTable,
    Footer,
    Input,
    RichLog,
    Static,
    TabbedContent,
    TabPane,
)

from minikubelet.api.types import JSON
from minikubelet.cli.client.commands.logs import choose_container
from minikubelet.cli.client.connection import Server
from minikubelet.cli.client.describe import describe_pod
from minikubelet.timeline import build_timeline, render_svg, trace_steps
from minikubelet.ui.client import ApiClient, Disconnected, StatusError
from minikubelet.ui.panes import show_containers, show_events, show_steps
from minikubelet.ui.screens import KEYS, Confirm, TextScreen
from minikubelet.ui.state import (
    POD_COLUMNS,
    PodStore,
    container_lines,
    container_names,
    event_lines,
    pod_lines,
    status_tone,
    usage_by_pod,
)

__all__ = ["Dashboard", "QuitHook"]

QuitHook = Callable[[], bool]  # True: close the dashboard now; False: stay (pods stopping)

_LOG_LINES = 5000
_TONES = {"good": "green", "busy": "yellow", "bad": "bold red"}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _split(key: str) -> tuple[str, str]:
    namespace, _, name = key.partition("/")
    return namespace, name


def _container_id(pod: Mapping[str, Any], container: str) -> str:
    status = pod.get("status") if isinstance(pod.get("status"), Mapping) else {}
    assert isinstance(status, Mapping)
    for key in ("initContainerStatuses", "containerStatuses"):
        for entry in status.get(key) or []:
            if isinstance(entry, Mapping) and entry.get("name") == container:
                return f"{entry.get('containerID', '')}#{entry.get('restartCount', 0)}"
    return ""


class Dashboard(App[None]):
    """The live view of one daemon's pods."""

    TITLE = "minikubelet"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    Screen { layout: vertical; }
    #topbar { height: 1; padding: 0 1; background: $panel; }
    #pods { height: 1fr; min-height: 4; }
    #filter, #search { height: 1; border: none; padding: 0 1; display: none; }
    #filter.shown, #search.shown { display: block; }
    #details { height: 1fr; min-height: 8; }
    #log-status { height: 1; color: $text-muted; }
    #log, #timeline { height: 1fr; }
    TabPane { padding: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
        Binding("slash", "slash", "filter"),
        Binding("d", "describe", "describe"),
        Binding("ctrl+d", "delete", "delete"),
        Binding("ctrl+k", "kill", "kill"),
        Binding("r", "restart", "restart"),
        Binding("c", "next_container", "container"),
        Binding("l", "show('tab-logs')", "logs", show=False),
        Binding("tab", "focus_next", "pane", priority=False),
        Binding("question_mark", "help", "help"),
        Binding("1", "show('tab-containers')", show=False),
        Binding("2", "show('tab-logs')", show=False),
        Binding("3", "show('tab-events')", show=False),
        Binding("4", "show('tab-timeline')", show=False),
        Binding("p", "previous", "previous", show=False),
        Binding("w", "wrap", "wrap", show=False),
        Binding("t", "save_timeline", "timeline", show=False),
        Binding("escape", "clear_filter", show=False),
    ]

    def __init__(
        self,
        server: Server | str | None = None,
        *,
        on_quit: QuitHook | None = None,
        clock: Callable[[], datetime] = _utc_now,
        title: str = "",
    ) -> None:
        super().__init__(ansi_color=True)
        self.theme = "ansi-dark"
        self.api = ApiClient(server)
        self.on_quit = on_quit
        self.clock = clock
        self.heading = title or f"minikubelet ui · {self.api.server}"
        self.store = PodStore()
        self.usage: dict[str, Any] = {}
        self.connected = False
        self.connection_note = "connecting"
        self.notice = ""
        self.generation = 0  # relists so far: a log follow reopens after a reconnection
        self.filter_text = ""
        self.search_text = ""
        self.selected: str | None = None
        self.containers: dict[str, str] = {}  # pod key -> the selected container
        self.previous = False
        self.wrap = False
        self.log_lines: deque[str] = deque(maxlen=_LOG_LINES)
        self.trace: JSON = {}
        self.events: list[JSON] = []
        self._row_keys: list[str] = []
        self._log_base = ""
        self._panes: dict[str, Any] = {}  # what the panes show now (see ``panes``)

    # -- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="topbar")
        table: DataTable[Text | str] = DataTable(id="pods", cursor_type="row")
        yield table
        yield Input(placeholder="filter: name, or labels app=web,tier!=db", id="filter")
        with TabbedContent(id="details", initial="tab-containers"):
            with TabPane("1 Containers", id="tab-containers"):
                containers: DataTable[str] = DataTable(id="containers", cursor_type="row")
                yield containers
            with TabPane("2 Logs", id="tab-logs"):
                yield Static(id="log-status")
                yield Input(placeholder="search the log", id="search")
                yield RichLog(id="log", max_lines=_LOG_LINES, wrap=False, markup=False)
            with TabPane("3 Events", id="tab-events"):
                events: DataTable[str] = DataTable(id="events", cursor_type="row")
                yield events
            with TabPane("4 Timeline", id="tab-timeline"):
                yield RichLog(id="timeline", wrap=False, markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        pods = self.pods_table
        for column in POD_COLUMNS:
            pods.add_column(column, key=column)
        self.query_one("#containers", DataTable).add_columns(
            "NAME", "ROLE", "STATE", "READY", "RESTARTS", "LAST TERMINATION", "PROBES"
        )
        self.query_one("#events", DataTable).add_columns("TYPE", "REASON", "AGE", "MESSAGE")
        pods.focus()
        self._show_topbar()
        self._work(self._watch_pods, "pods")
        self._work(self._poll_usage, "usage")
        self._work(self._poll_details, "details")
        self.set_interval(1.0, self._tick)

    def _work(
        self, work: Callable[[], Awaitable[None]], group: str, exclusive: bool = True
    ) -> None:
        """Run ``work()`` in a Textual worker (an asyncio task), cancelled at exit.

        A function, not a coroutine: an exclusive worker replaced before it started must
        leave behind no coroutine that was never awaited. (``cast``: Textual's ``WorkType``
        does not accept a plain ``async def`` under mypy's strict mode.)

        At exit Textual stops the app, then removes its screens, then cancels the workers:
        a worker that wakes from a request in between finds its widgets gone. That is the
        end of its work, not an error; a missing widget while the app runs still is.
        """

        async def guarded() -> None:
            try:
                await work()
            except NoMatches:
                if self.is_running:
                    raise

        self.run_worker(cast(Any, guarded), group=group, exclusive=exclusive)

    async def on_unmount(self) -> None:
        await self.api.__aexit__(None, None, None)

    @property
    def pods_table(self) -> DataTable[Text | str]:
        return self.query_one("#pods", DataTable)

    # -- the status line -------------------------------------------------------------

    def _show_topbar(self) -> None:
        state = "connected" if self.connected else self.connection_note
        parts = [self.heading, state]
        if self.filter_text:
            parts.append(f"filter: {self.filter_text}")
        if self.notice:
            parts.append(self.notice)
        text = Text(" · ".join(parts))
        if not self.connected:
            text.stylize("bold yellow")
        self.query_one("#topbar", Static).update(text)

    def say(self, notice: str) -> None:
        """A notice on the status line (``run --ui``: stopping, killing, all done)."""
        self.notice = notice
        self._show_topbar()

    # -- the pods --------------------------------------------------------------------

    async def _watch_pods(self) -> None:
        pause = 0.2
        while True:
            try:
                listing = await self.api.get("/api/v1/pods")
                self.store.replace(listing)
                self.generation += 1
                self._set_connected(True, "")
                pause = 0.2
                self._refresh_pods()
                async for event in self.api.watch_pods(self.store.version):
                    if not self.store.apply(event):
                        break  # an ERROR (410 Expired): relist
                    self._refresh_pods()
                # The watch ended: the daemon is stopping, or it closed the stream. Relist.
            except (Disconnected, StatusError) as error:
                self._set_connected(False, f"disconnected: {error} · reconnecting")
            await anyio.sleep(pause)
            pause = min(pause * 2, 2.0)

    def _set_connected(self, connected: bool, note: str) -> None:
        if connected == self.connected and note == self.connection_note:
            return
        self.connected = connected
        self.connection_note = note
        self._show_topbar()

    async def _poll_usage(self) -> None:
        while True:
            polled = False
            if self.connected:
                try:
                    self.usage = usage_by_pod(await self.api.get("/stats/summary"))
                    polled = True
                except (Disconnected, StatusError):
                    self.usage = {}
                self._refresh_pods()
            await anyio.sleep(2.0 if polled else 0.2)

    def _tick(self) -> None:
        self._refresh_pods()
        self._refresh_details()

    def _refresh_pods(self) -> None:
        table = self.pods_table
        lines = pod_lines(self.store.sorted(), self.usage, self.clock(), self.filter_text)
        keys = [line.key for line in lines]
        if keys != self._row_keys:
            cursor = self.selected
            table.clear()
            for line in lines:
                table.add_row(*self._cells(line.cells, line.status), key=line.key)
            self._row_keys = keys
            if cursor in keys:
                table.move_cursor(row=keys.index(cursor), animate=False)
            elif keys:
                table.move_cursor(row=min(table.cursor_row, len(keys) - 1), animate=False)
        else:
            for line in lines:
                for column, value in zip(
                    POD_COLUMNS, self._cells(line.cells, line.status), strict=True
                ):
                    if table.get_cell(line.key, column) != value:
                        table.update_cell(line.key, column, value, update_width=True)
        self._select(self._cursor_key())

    @staticmethod
    def _cells(cells: tuple[str, ...], status: str) -> list[Text | str]:
        values: list[Text | str] = list(cells)
        values[2] = Text(status, style=_TONES[status_tone(status)])
        return values

    def _cursor_key(self) -> str | None:
        table = self.pods_table
        if not self._row_keys or table.cursor_row < 0:
            return None
        return self._row_keys[min(table.cursor_row, len(self._row_keys) - 1)]

    @on(DataTable.RowHighlighted, "#pods")
    def _pod_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._select(str(event.row_key.value) if event.row_key.value else None)

    def _select(self, key: str | None) -> None:
        if key == self.selected:
            return
        self.selected = key
        self.trace, self.events = {}, []
        self._refresh_details()
        self._restart_logs()
        self._work(self._fetch_details, "fetch")

    def selected_pod(self) -> JSON | None:
        return self.store.pods.get(self.selected) if self.selected else None

    def selected_container(self) -> str | None:
        pod = self.selected_pod()
        if pod is None or self.selected is None:
            return None
        names = container_names(pod)
        chosen = self.containers.get(self.selected)
        if chosen in names:
            return chosen
        try:
            chosen, _ = choose_container(pod, None)
        except ValueError:
            return names[0] if names else None
        return chosen

    # -- the selected pod's panes ----------------------------------------------------

    async def _poll_details(self) -> None:
        while True:
            await anyio.sleep(1.0)
            if self.connected and self.selected is not None:
                await self._fetch_details()

    async def _fetch_details(self) -> None:
        key = self.selected
        pod = self.selected_pod()
        if key is None or pod is None:
            return
        namespace, name = _split(key)
        try:
            trace = await self.api.get(f"/api/v1/namespaces/{namespace}/pods/{name}/trace")
            listing = await self.api.get(
                f"/api/v1/namespaces/{namespace}/events",
                {"fieldSelector": f"involvedObject.name={name}"},
            )
        except (Disconnected, StatusError):
            return
        if key != self.selected:
            return
        uid = (pod.get("metadata") or {}).get("uid")
        self.trace = trace
        self.events = [
            event
            for event in listing.get("items") or []
            if isinstance(event, dict)
            and (not uid or (event.get("involvedObject") or {}).get("uid") in (None, uid))
        ]
        self._refresh_details()

    def _refresh_details(self) -> None:
        now, pod = self.clock(), self.selected_pod()
        lines = container_lines(pod, self.trace, now) if pod is not None else []
        containers = self.query_one("#containers", DataTable)
        show_containers(containers, lines, self.selected_container(), self._panes)
        events = event_lines(self.events, now) if pod is not None else []
        show_events(self.query_one("#events", DataTable), events, self._panes)
        steps = trace_steps(self.trace) if pod is not None else []
        show_steps(self.query_one("#timeline", RichLog), steps, self._panes)

    # -- logs ------------------------------------------------------------------------

    def _restart_logs(self) -> None:
        log = self.query_one("#log", RichLog)
        log.clear()
        self.log_lines.clear()
        key, container = self.selected, self.selected_container()
        if key is None or container is None:
            self._log_status("no pod selected")
            return
        follow = functools.partial(self._follow_logs, key, container, self.previous)
        self._work(follow, "logs")

    def _log_status(self, text: str | None = None) -> None:
        """The line above the log: what is shown, and the wrap and search settings."""
        if text is not None:
            self._log_base = text
        flags = []
        if self.wrap:
            flags.append("wrap")
        if self.search_text:
            flags.append(f"search: {self.search_text}")
        suffix = f"  [{', '.join(flags)}]" if flags else ""
        self.query_one("#log-status", Static).update(Text(self._log_base + suffix))

    def _add_log_line(self, line: str) -> None:
        self.log_lines.append(line)
        if self._shown(line):
            self.query_one("#log", RichLog).write(self._log_text(line))

    def _shown(self, line: str) -> bool:
        return not self.search_text or self.search_text.lower() in line.lower()

    def _log_text(self, line: str) -> Text:
        text = Text(line)
        if self.search_text:
            text.highlight_words([self.search_text], style="reverse", case_sensitive=False)
        return text

    def _redraw_log(self) -> None:
        log = self.query_one("#log", RichLog)
        log.wrap = self.wrap
        log.clear()
        for line in self.log_lines:
            if self._shown(line):
                log.write(self._log_text(line))

    async def _follow_logs(self, key: str, container: str, previous: bool) -> None:
        namespace, name = _split(key)
        label = f"{name}/{container}"
        while True:
            pod = self.store.pods.get(key)
            if pod is None:
                self._log_status(f"{label}: the pod is gone")
                return
            instance, generation = _container_id(pod, container), self.generation
            params = {"container": container, "tailLines": "500"}
            params["previous" if previous else "follow"] = "true"
            self.log_lines.clear()
            self.query_one("#log", RichLog).clear()
            what = "previous instance" if previous else "following"
            self._log_status(f"logs {label} · {what}")
            try:
                async for line in self.api.log_lines(namespace, name, params):
                    self._add_log_line(line)
                if not previous:
                    self._log_status(f"logs {label} · ended")
            except (StatusError, Disconnected) as error:
                self._log_status(f"logs {label}: {error}")
            if previous:
                return
            while True:  # reopen for the next instance, or once the daemon is back
                await anyio.sleep(0.5)
                pod = self.store.pods.get(key)
                if pod is None:
                    break
                if _container_id(pod, container) != instance or self.generation != generation:
                    break

    # -- actions ---------------------------------------------------------------------

    async def action_quit(self) -> None:
        if self.on_quit is None or self.on_quit():
            self.exit()

    def action_show(self, tab: str) -> None:
        self.query_one("#details", TabbedContent).active = tab

    def action_slash(self) -> None:
        focused = self.focused
        details = self.query_one("#details", TabbedContent)
        if details.active == "tab-logs" and focused is not None and focused.id == "log":
            search = self.query_one("#search", Input)
            search.add_class("shown")
            search.value = self.search_text
            search.focus()
            return
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        box.value = self.filter_text
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self._show_topbar()
        self._refresh_pods()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search_text = event.value
        self._redraw_log()
        self._log_status()

    @on(Input.Submitted)
    def _input_done(self, event: Input.Submitted) -> None:
        event.input.remove_class("shown")
        target = "#log" if event.input.id == "search" else "#pods"
        self.query_one(target).focus()

    def action_clear_filter(self) -> None:
        for box_id, target in (("#filter", "#pods"), ("#search", "#log")):
            box = self.query_one(box_id, Input)
            if box.has_class("shown") or (box.value and self.focused is box):
                box.value = ""
                box.remove_class("shown")
                self.query_one(target).focus()

    def action_next_container(self) -> None:
        pod = self.selected_pod()
        if pod is None or self.selected is None:
            return
        names = container_names(pod)
        current = self.selected_container()
        if not names:
            return
        index = names.index(current) if current in names else -1
        self.containers[self.selected] = names[(index + 1) % len(names)]
        self._refresh_details()
        self._restart_logs()

    @on(DataTable.RowSelected, "#containers")
    def _container_chosen(self, event: DataTable.RowSelected) -> None:
        pod = self.selected_pod()
        if pod is None or self.selected is None:
            return
        names = container_names(pod)
        if 0 <= event.cursor_row < len(names):
            self.containers[self.selected] = names[event.cursor_row]
            self._refresh_details()
            self._restart_logs()

    def action_previous(self) -> None:
        self.previous = not self.previous
        self.action_show("tab-logs")
        self._restart_logs()

    def action_wrap(self) -> None:
        self.wrap = not self.wrap
        self._redraw_log()
        self._log_status()

    def action_help(self) -> None:
        self.push_screen(TextScreen("keys", KEYS))

    def action_describe(self) -> None:
        pod = self.selected_pod()
        if pod is None:
            return
        text = describe_pod(pod, self.events, self.clock(), self.trace or None)
        self.push_screen(TextScreen(f"describe pod {self.selected}", text))

    def _confirm_then(self, question: str, work: Callable[[], Awaitable[None]]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._work(work, "actions", exclusive=False)

        self.push_screen(Confirm(question), answered)

    def action_delete(self) -> None:
        pod = self.selected_pod()
        if pod is None or self.selected is None:
            return
        key = self.selected
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        self._confirm_then(
            f"Delete pod {key}? It stops gracefully: preStop, stop signal, "
            f"grace period {grace}s, then SIGKILL.",
            functools.partial(self._delete, key, None),
        )

    def action_kill(self) -> None:
        if self.selected is None:
            return
        key = self.selected
        self._confirm_then(
            f"Kill pod {key} now? Deleted with grace period 0: no preStop, SIGKILL.",
            functools.partial(self._delete, key, 0),
        )

    async def _delete(self, key: str, grace: int | None) -> None:
        namespace, name = _split(key)
        body: JSON = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace is not None:
            body["gracePeriodSeconds"] = grace
        try:
            await self.api.request(
                "DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", body=body
            )
        except (StatusError, Disconnected) as error:
            self.notify(str(error), title="delete failed", severity="error")
            return
        self.notify(f'pod "{name}" {"killed" if grace == 0 else "deleted"}')

    def action_restart(self) -> None:
        key, container = self.selected, self.selected_container()
        if key is None or container is None:
            return
        self._confirm_then(
            f"Restart container {container} of pod {key}? It stops gracefully, then its "
            "restart policy applies.",
            functools.partial(self._restart, key, container),
        )

    async def _restart(self, key: str, container: str) -> None:
        namespace, name = _split(key)
        try:
            await self.api.request(
                "POST",
                f"/api/v1/namespaces/{namespace}/pods/{name}/restart",
                {"container": container},
            )
        except (StatusError, Disconnected) as error:
            self.notify(str(error), title="restart failed", severity="error")
            return
        self.notify(f"container {container} of pod {name}: restart requested")

    def action_save_timeline(self) -> None:
        pod = self.selected_pod()
        if pod is None or not self.trace:
            return
        name = _split(self.selected or "")[1]
        path = Path(f"{name}-timeline.svg")
        path.write_text(render_svg(build_timeline(self.trace, pod)), encoding="utf-8")
        self.notify(f"timeline written to {path}")
