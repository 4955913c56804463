"""A browser-less Streamlit client: speaks the frontend's protocol, so one asyncio process can
drive many sessions of a real `streamlit run` server (Streamlit 1.67, Starlette server).

What it does, as the frontend (static/js/index.*.js) does:

- XSRF: a GET of `/_stcore/health` sets the `_streamlit_xsrf` cookie. The websocket at
  `/_stcore/stream` carries that cookie and offers the subprotocols `["streamlit", <cookie>]`
  (the server checks the second entry against the cookie); upload PUTs send the cookie and the
  same value in `X-Xsrftoken`.
- Pages: the first `rerun_script` asks for a page by its URL path in `ClientState.page_name`
  (`"predict"` for `/predict`); later ones send the `page_script_hash` the server reported
  (in `navigation`, else `new_session`) and the query string it last set (`page_info_changed`).
- Uploads: a `file_urls_request` BackMsg; the `file_urls_response` names one upload URL per
  file; each file is PUT there as multipart form data (field and file name = the file's name);
  then one widget change: a `FileUploaderState` for the uploader's id and a rerun.
- Fragments: an `auto_rerun` message (`st.fragment(run_every=...)`) makes the client request
  `rerun_script` with `fragment_id` and `is_auto_rerun` at that interval, until a full run
  starts or `stop_auto_rerun` names it.
- Message cache: cacheable messages are kept by hash and their hashes sent with each rerun, so
  the server answers with `ref_hash` references as it does to a browser.

Unlike a browser it sends only the widget states it set itself (the server then uses each
other widget's default or session-state value), and no component (iframe) ever reports a value.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect as websocket_connect
from websockets.typing import Origin, Subprotocol

XSRF_COOKIE_NAME = "_streamlit_xsrf"
FINISHED_SUCCESSFULLY = ForwardMsg.FINISHED_SUCCESSFULLY
FINISHED_WITH_COMPILE_ERROR = ForwardMsg.FINISHED_WITH_COMPILE_ERROR
FINISHED_EARLY_FOR_RERUN = ForwardMsg.FINISHED_EARLY_FOR_RERUN
FINISHED_FRAGMENT_RUN_SUCCESSFULLY = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY


class ProtocolError(RuntimeError):
    """The server answered something this client cannot go on from."""


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


async def http_request(url: str, method: str = "GET", headers: dict[str, str] | None = None,
                       body: bytes = b"") -> HttpResponse:
    """One HTTP/1.1 request on its own connection (plain http only), read to the end."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close",
                 f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    response_headers = [tuple(part.strip() for part in line.split(":", 1))
                        for line in header_lines if ":" in line]
    return HttpResponse(int(status_line.split()[1]), response_headers, payload)


def multipart_body(field_name: str, file_name: str, content_type: str,
                   data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body holding one file, and its Content-Type header value."""
    boundary = f"----lepton{uuid.uuid4().hex}"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field_name}\"; "
            f"filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n")
    body = head.encode("utf-8") + data + f"\r\n--{boundary}--\r\n".encode("ascii")
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass
class UploadFile:
    """A file as a user picks it: name, bytes and MIME type."""

    name: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass
class ScriptRun:
    """One run of the script (full app, or fragments) as the client saw it.

    `requested` is the monotonic time of the rerun request this run answers (None for runs the
    client did not ask for, such as ones it asked for before an interruption); `started` when
    its `new_session` arrived, `finished` when its `script_finished` did.
    """

    run_id: str
    fragment_ids: tuple[str, ...]
    started: float
    requested: float | None = None
    elements_by_path: dict[tuple[int, ...], object] = field(default_factory=dict)
    status: int | None = None
    finished: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def elements(self) -> list:
        """The elements this run left on the page, in page order (an element sent again at
        the same place, as a placeholder's updates are, replaces the earlier one)."""
        return [self.elements_by_path[path] for path in sorted(self.elements_by_path)]

    @property
    def is_fragment_run(self) -> bool:
        return bool(self.fragment_ids)

    @property
    def seconds(self) -> float | None:
        """From the rerun request (or the run's start) to its end."""
        if self.finished is None:
            return None
        return self.finished - (self.requested if self.requested is not None else self.started)

    def find(self, kind: str) -> list:
        """The elements of one type ("metric", "exception", "alert", "dataframe", ...) on the
        page, in page order, as their protobuf messages."""
        return [getattr(element, kind) for element in self.elements
                if element.WhichOneof("type") == kind]

    def metric(self, label: str):
        """The first `st.metric` with this label, or None."""
        return next((metric for metric in self.find("metric") if metric.label == label), None)

    @property
    def exceptions(self) -> list:
        return self.find("exception")

    @property
    def errors(self) -> list[str]:
        """Bodies of `st.error` boxes."""
        return [alert.body for alert in self.find("alert") if alert.format == alert.ERROR]

    def widget_id(self, key: str) -> str | None:
        """The element id of the widget created with `key=key` (ids end in "-<key>")."""
        for element in self.elements:
            kind = element.WhichOneof("type")
            widget = getattr(element, kind) if kind else None
            widget_id = getattr(widget, "id", "") if widget is not None else ""
            if isinstance(widget_id, str) and widget_id.endswith(f"-{key}"):
                return widget_id
        return None


class StreamlitSession:
    """One browser tab's worth of Streamlit session, over one websocket.

    Usage:
        session = StreamlitSession("http://127.0.0.1:8501")
        run = await session.connect("predict")
        run = await session.upload("uploads", [UploadFile("7.png", data, "image/png")])
        await session.close()
    """

    def __init__(self, base_url: str, *, locale: str = "en-US", timezone: str = "UTC",
                 follow_fragments: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.locale = locale
        self.timezone = timezone
        self.follow_fragments = follow_fragments
        self.session_id = ""
        self.page_script_hash = ""
        self.query_string = ""
        self.runs: list[ScriptRun] = []
        self.widget_states: dict[str, WidgetState] = {}
        self.page_not_found = False
        self.page_path = ""
        self.closed_reason: str | None = None
        self._xsrf_token = ""
        self._websocket = None
        self._reader_task: asyncio.Task | None = None
        self._file_url_requests: dict[str, asyncio.Future] = {}
        self._auto_reruns: dict[str, tuple[float, asyncio.Task]] = {}
        self._message_cache: dict[str, ForwardMsg] = {}
        self._message_ages: dict[str, int] = {}
        self._max_cached_message_age = 2
        self._full_runs_requested: list[float] = []  # request times not yet matched to a run
        self._run_changed = asyncio.Condition()
        self._request_numbers = itertools.count(1)

    # --- connection -------------------------------------------------------------------------

    async def connect(self, page: str = "", query_string: str = "") -> ScriptRun:
        """Opens the session on the page at URL path `page` ("" = default page) and returns
        the first full run once it finished."""
        health = await http_request(f"{self.base_url}/_stcore/health")
        if health.status != 200:
            raise ProtocolError(f"health check answered {health.status}")
        for cookie in health.header_values("set-cookie"):
            name, _, rest = cookie.partition("=")
            if name.strip() == XSRF_COOKIE_NAME:
                self._xsrf_token = rest.split(";", 1)[0]
        socket_url = self.base_url.replace("http://", "ws://", 1) + "/_stcore/stream"
        # The XSRF token goes in the subprotocol list because browsers cannot set headers on
        # a websocket; the server compares it with the cookie.
        subprotocols = [Subprotocol("streamlit")]
        if self._xsrf_token:
            subprotocols.append(Subprotocol(self._xsrf_token))
        headers = {"Cookie": f"{XSRF_COOKIE_NAME}={self._xsrf_token}"} if self._xsrf_token else {}
        # No client pings (a browser sends none) and no proxy from the environment.
        self._websocket = await websocket_connect(
            socket_url, subprotocols=subprotocols, additional_headers=headers,
            origin=Origin(self.base_url), max_size=None, ping_interval=None, proxy=None,
            open_timeout=60)
        self._reader_task = asyncio.create_task(self._read_messages())
        self.query_string = query_string
        self.page_path = page
        return await self.rerun(page_name=page)

    async def close(self) -> None:
        """Stops the fragment timers and closes the websocket."""
        for _, timer in self._auto_reruns.values():
            timer.cancel()
        self._auto_reruns.clear()
        if self._websocket is not None:
            await self._websocket.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            try:
                await self._reader_task
            except (asyncio.CancelledError, Exception):
                pass

    # --- requests ---------------------------------------------------------------------------

    def _client_state(self, page_name: str = "", fragment_id: str = "",
                      is_auto_rerun: bool = False) -> ClientState:
        state = ClientState(query_string=self.query_string, fragment_id=fragment_id,
                            is_auto_rerun=is_auto_rerun)
        if page_name:
            state.page_name = page_name
        else:
            state.page_script_hash = self.page_script_hash
        state.widget_states.widgets.extend(self.widget_states.values())
        state.cached_message_hashes.extend(self._message_cache)
        state.context_info.timezone = self.timezone
        state.context_info.timezone_offset = 0
        state.context_info.locale = self.locale
        query = f"?{self.query_string}" if self.query_string else ""
        state.context_info.url = f"{self.base_url}/{self.page_path}{query}"
        state.context_info.color_scheme = "light"
        return state

    async def _send(self, message: BackMsg) -> None:
        await self._websocket.send(message.SerializeToString())

    async def request_rerun(self, page_name: str = "") -> float:
        """Sends a full-app `rerun_script` and returns the monotonic time it was sent; the run
        answering it gets that time as `requested`."""
        message = BackMsg()
        message.rerun_script.CopyFrom(self._client_state(page_name=page_name))
        requested = time.monotonic()
        self._full_runs_requested.append(requested)
        await self._send(message)
        return requested

    async def rerun(self, page_name: str = "") -> ScriptRun:
        """A full-app rerun with the current widget states; returns it once it finished
        (successfully or with a compile error)."""
        requested = await self.request_rerun(page_name)
        return await self.wait_for_full_run(requested)

    async def wait_for_full_run(self, requested: float) -> ScriptRun:
        """The first full run requested at or after `requested` that ran to its end. A run
        interrupted by a rerun (`FINISHED_EARLY_FOR_RERUN`) is skipped: its successor answers."""
        async with self._run_changed:
            while True:
                for run in self.runs:
                    if (not run.is_fragment_run and run.requested is not None
                            and run.requested >= requested and run.status is not None
                            and run.status != FINISHED_EARLY_FOR_RERUN):
                        return run
                if self.closed_reason is not None:
                    raise ProtocolError(f"websocket closed: {self.closed_reason}")
                await self._run_changed.wait()

    async def request_file_urls(self, file_names: list[str]) -> list[FileURLs]:
        """Asks the server for one upload URL per file name."""
        request_id = f"upload-{next(self._request_numbers)}"
        answer = asyncio.get_running_loop().create_future()
        self._file_url_requests[request_id] = answer
        message = BackMsg()
        message.file_urls_request.request_id = request_id
        message.file_urls_request.session_id = self.session_id
        message.file_urls_request.file_names.extend(file_names)
        await self._send(message)
        return await answer

    async def put_file(self, upload_url: str, upload: UploadFile) -> None:
        """PUTs one file to its upload URL with the XSRF cookie and header."""
        url = upload_url if "://" in upload_url else self.base_url + upload_url
        body, content_type = multipart_body(upload.name, upload.name, upload.content_type,
                                            upload.data)
        headers = {"Content-Type": content_type, "Origin": self.base_url}
        if self._xsrf_token:
            headers["Cookie"] = f"{XSRF_COOKIE_NAME}={self._xsrf_token}"
            headers["X-Xsrftoken"] = self._xsrf_token
        response = await http_request(url, "PUT", headers, body)
        if response.status not in (200, 204):
            raise ProtocolError(f"upload of {upload.name} answered {response.status}: "
                                f"{response.body[:200]!r}")

    async def set_files(self, widget: str, files: list[UploadFile], append: bool = False) -> str:
        """Uploads `files` (all at once, as one pick in the file dialog) for the file uploader
        with key or id `widget` and sets its widget state, without rerunning. Returns its id.

        Args:
            append: keep the files uploaded before and add these, as a multi-file uploader
                does when the user picks more; else they replace them.
        """
        widget_id = self.resolve_widget(widget)
        file_urls = await self.request_file_urls([upload.name for upload in files])
        if len(file_urls) != len(files):
            raise ProtocolError(f"asked {len(files)} upload URLs, got {len(file_urls)}")
        # The frontend uploads the picked files in parallel.
        await asyncio.gather(*(self.put_file(urls.upload_url, upload)
                               for urls, upload in zip(file_urls, files)))
        state = WidgetState(id=widget_id)
        if append and widget_id in self.widget_states:
            state.CopyFrom(self.widget_states[widget_id])
        state.file_uploader_state_value.uploaded_file_info.extend(
            UploadedFileInfo(name=upload.name, size=len(upload.data), file_id=urls.file_id,
                             file_urls=urls)
            for urls, upload in zip(file_urls, files))
        self.widget_states[widget_id] = state
        return widget_id

    async def upload(self, widget: str, files: list[UploadFile], append: bool = False
                     ) -> ScriptRun:
        """Uploads `files` to the uploader `widget` (key or id), reruns, and returns the run
        once it finished; its `requested` is when the rerun was asked for."""
        await self.set_files(widget, files, append)
        return await self.rerun()

    def resolve_widget(self, key_or_id: str) -> str:
        """A widget id from a user key, looked up in the latest full run; ids pass through."""
        if key_or_id.startswith("$$"):
            return key_or_id
        for run in reversed(self.runs):
            if not run.is_fragment_run:
                widget_id = run.widget_id(key_or_id)
                if widget_id:
                    return widget_id
        raise ProtocolError(f"no widget with key {key_or_id!r} on the page")

    @property
    def last_full_run(self) -> ScriptRun | None:
        return next((run for run in reversed(self.runs) if not run.is_fragment_run), None)

    # --- fragment timers --------------------------------------------------------------------

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            message = BackMsg()
            message.rerun_script.CopyFrom(
                self._client_state(fragment_id=fragment_id, is_auto_rerun=True))
            await self._send(message)

    def _start_auto_rerun(self, fragment_id: str, interval: float) -> None:
        current = self._auto_reruns.get(fragment_id)
        if current and current[0] == interval:
            return
        self._stop_auto_rerun(fragment_id)
        self._auto_reruns[fragment_id] = (
            interval, asyncio.create_task(self._auto_rerun(fragment_id, interval)))

    def _stop_auto_rerun(self, fragment_id: str) -> None:
        current = self._auto_reruns.pop(fragment_id, None)
        if current:
            current[1].cancel()

    # --- incoming messages ------------------------------------------------------------------

    async def _read_messages(self) -> None:
        try:
            async for frame in self._websocket:
                message = ForwardMsg()
                message.ParseFromString(frame)
                await self._handle(message)
            self.closed_reason = "closed by the server"
        except asyncio.CancelledError:
            self.closed_reason = "closed by the client"
            raise
        except Exception as error:  # a dead connection ends the session, not the benchmark
            self.closed_reason = f"{type(error).__name__}: {error}"
        finally:
            for answer in self._file_url_requests.values():
                if not answer.done():
                    answer.set_exception(ProtocolError(f"websocket closed: {self.closed_reason}"))
            async with self._run_changed:
                self._run_changed.notify_all()

    def _resolve_reference(self, message: ForwardMsg) -> ForwardMsg:
        if message.WhichOneof("type") != "ref_hash":
            if message.metadata.cacheable and message.hash:
                self._message_cache[message.hash] = message
                self._message_ages[message.hash] = 0
            return message
        cached = self._message_cache.get(message.ref_hash)
        if cached is None:
            raise ProtocolError(f"reference to a message never received: {message.ref_hash}")
        self._message_ages[message.ref_hash] = 0
        resolved = ForwardMsg()
        resolved.CopyFrom(cached)
        resolved.metadata.CopyFrom(message.metadata)
        return resolved

    def _age_message_cache(self) -> None:
        # As the frontend: a cached message unused for more than max_cached_message_age runs
        # is dropped (the server stops referencing it as soon as we stop naming its hash).
        for message_hash in list(self._message_ages):
            self._message_ages[message_hash] += 1
            if self._message_ages[message_hash] > self._max_cached_message_age:
                del self._message_ages[message_hash]
                self._message_cache.pop(message_hash, None)

    async def _handle(self, message: ForwardMsg) -> None:
        message = self._resolve_reference(message)
        kind = message.WhichOneof("type")
        if kind == "new_session":
            await self._on_new_session(message)
        elif kind == "delta":
            if self.runs and message.delta.WhichOneof("type") == "new_element":
                path = tuple(message.metadata.delta_path)
                self.runs[-1].elements_by_path[path] = message.delta.new_element
        elif kind == "script_finished":
            await self._on_script_finished(message)
        elif kind == "file_urls_response":
            response = message.file_urls_response
            answer = self._file_url_requests.pop(response.response_id, None)
            if answer is not None and not answer.done():
                if response.error_msg:
                    answer.set_exception(ProtocolError(response.error_msg))
                else:
                    answer.set_result(list(response.file_urls))
        elif kind == "navigation":
            if message.navigation.page_script_hash:
                self.page_script_hash = message.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = message.page_info_changed.query_string
        elif kind == "page_not_found":
            self.page_not_found = True
        elif kind == "auto_rerun" and self.follow_fragments:
            if message.auto_rerun.fragment_id:
                self._start_auto_rerun(message.auto_rerun.fragment_id,
                                       message.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fragment_id in message.stop_auto_rerun.fragment_ids:
                self._stop_auto_rerun(fragment_id)

    async def _on_new_session(self, message: ForwardMsg) -> None:
        new_session = message.new_session
        if new_session.initialize.session_id:
            self.session_id = new_session.initialize.session_id
        if new_session.page_script_hash and not self.page_script_hash:
            self.page_script_hash = new_session.page_script_hash
        self._max_cached_message_age = new_session.config.max_cached_message_age or 2
        run = ScriptRun(run_id=message.metadata.run.script_run_id,
                        fragment_ids=tuple(message.metadata.run.fragment_ids),
                        started=time.monotonic())
        if not run.is_fragment_run:
            for fragment_id in list(self._auto_reruns):  # a full run sets its timers anew
                self._stop_auto_rerun(fragment_id)
            if self._full_runs_requested:
                # Requests arriving while a run goes are merged into one rerun: the newest
                # request this run can answer is the one it answers.
                run.requested = self._full_runs_requested[-1]
                self._full_runs_requested.clear()
        async with self._run_changed:
            self.runs.append(run)
            self._run_changed.notify_all()

    async def _on_script_finished(self, message: ForwardMsg) -> None:
        run_id = message.metadata.run.script_run_id
        run = next((run for run in reversed(self.runs) if run.run_id == run_id), None) \
            if run_id else (self.runs[-1] if self.runs else None)
        if run is None or run.status is not None:
            return
        run.status = message.script_finished
        run.finished = time.monotonic()
        run.done.set()
        if run.status == FINISHED_EARLY_FOR_RERUN and run.requested is not None:
            # The rerun that interrupted it answers the same request.
            self._full_runs_requested.insert(0, run.requested)
        self._age_message_cache()
        async with self._run_changed:
            self._run_changed.notify_all()
