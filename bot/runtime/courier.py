"""The courier: a child process that makes the bot's Bot API calls and journals what Telegram
accepted, so a crash of the bot neither loses nor repeats a message.

Why a process of its own. The Bot API has no idempotency key and no way to ask whether a
message reached a chat. A sender that dies between Telegram's answer and the commit of its
"sent" mark cannot tell a delivered call from one never made, and must send it again: at
1,000 messages a second a SIGKILL of the bot repeated tens of them, and in a burst of
reports the draft echoes in flight. The calls in flight when the bot dies are not lost with it
if another process makes them:

- The sender (bot/runtime/sender.py) hands its JSON calls (a conversation's and a
  broadcast's: announcements, consultation ballots and results, proposal news; uploads stay
  with the bot) to the courier over a pipe, with the row's id; it still paces them, orders
  each chat's messages and handles every answer (429, blocked, errors) as for its own calls.
- The courier makes the call (bot/runtime/botapi.py) and, when Telegram accepted it, appends
  the row's id, its chat and the message's id to a journal file *before* it passes the answer
  back. An append to a file survives the death of either process (the kernel holds it).
- On the pipe each call and each answer is a header line and its body as it goes over HTTP
  (the header gives its length): the courier neither decodes a call nor re-encodes an answer,
  it reads only the answer's message id for the journal. Calls: ``C <n> <row> <chat>
  <method> <length>``; answers: ``A <n> <status> <journalled 0|1> <message id|-> <length>``
  or ``E <n> <timeout|network> <length>`` (the error's description).
- The bot dies: the courier's input closes. It makes no new call, finishes the calls in flight,
  journals their answers and exits. The journal's lock (held by the bot and the courier
  together) is free once it has.
- The bot starts: `recover` waits for that lock, marks every journalled row "sent" with its
  message, and only then lets the sender take back the rows the dead bot held. What is still
  unmarked was never passed to the courier, or was refused: sending it again repeats nothing.

The journal is rewritten after `ROTATE_EVERY` answers, when all are marked, or after twice as
many whatever waits ("rotate", ``R <answers> <length>``): the bot sends the entries of the
answers it received and has not marked yet, the courier keeps those and the ones on their way
back, so it stays small under constant traffic. A file per database (its URL's hash) and per
live process (`courier-<key>-<n>.journal`, the first one not locked): a PostgreSQL replica
restarted on the same host recovers the journals their dead owners left.
What stays uncertain is a call in flight when the courier itself (or the machine) dies: it
does nothing else, and a repeat is possible only for those calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from telegram.error import NetworkError, TimedOut

from bot.runtime.botapi import BotApi, answer, body_of, message_id_of

log = logging.getLogger(__name__)

# How long a restarted bot waits for a dead bot's courier to finish its calls in flight (its
# calls time out well before: connect 5 s, read 5 s).
DRAIN_WAIT = 60.0
# The journal is rewritten (to the entries not marked "sent" yet) every this many answers.
ROTATE_EVERY = 500

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# A journal entry: (outbox row id, chat id, message id or None)
Delivered = tuple[int, int, int | None]

_HELD: set[str] = set()  # the journals this process's live couriers write to


def journal_key(database_url: str) -> str:
    return hashlib.sha256(database_url.encode()).hexdigest()[:12]


def _mid(message_id: int | None) -> bytes:
    """A message id as the journal and the pipe write it (``-``: none)."""
    return b"-" if message_id is None else b"%d" % message_id


def entry(row_id: int, chat_id: int, message_id: int | None) -> bytes:
    """A journal line: ``<row> <chat> <message id|->``."""
    return b"%d %d %s\n" % (row_id, chat_id, _mid(message_id))


def read_journal(fd: int) -> list[Delivered]:
    """The calls a journal records as accepted by Telegram (a torn last line is skipped)."""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    found: list[Delivered] = []
    for line in b"".join(chunks).split(b"\n")[:-1]:  # after the last newline: torn or empty
        try:
            if line.startswith(b"{"):
                # the header, or an entry of an earlier version: {"id", "chat", "b": answer}
                old = json.loads(line)
                if "id" in old:
                    result = answer(200, old["b"].encode())
                    found.append((int(old["id"]), int(old["chat"]), message_id_of(result)))
                continue
            row, chat, mid = line.split()
            found.append((int(row), int(chat), None if mid == b"-" else int(mid)))
        except Exception:  # noqa: BLE001 - a foreign line records nothing
            continue
    return found


def _header() -> bytes:
    return (_dumps({"pid": os.getppid(), "host": socket.gethostname()}) + "\n").encode()


def _owner(fd: int) -> tuple[int, str] | None:
    os.lseek(fd, 0, os.SEEK_SET)
    first = os.read(fd, 4096).split(b"\n", 1)[0]
    try:
        head = json.loads(first)
        return int(head["pid"]), str(head["host"])
    except Exception:  # noqa: BLE001
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Courier:
    """The bot's side: spawns the courier on its first call, passes calls, reads answers."""

    def __init__(self, base_url: str, connections: int, directory: Path, database_url: str):
        self.base_url = base_url
        self.connections = max(1, connections)
        self.directory = directory
        self.key = journal_key(database_url)
        self._fd: int | None = None  # our journal, locked (shared with the courier)
        self._path = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        # calls passed on and not answered yet, by number: (the courier, row id, chat, future)
        self._waiting: dict[
            int, tuple[asyncio.subprocess.Process, int, int, asyncio.Future[tuple[int, bytes]]]
        ] = {}
        self._seq = 0
        # rows whose delivery the journal records and whose "sent" mark is not committed yet:
        # their journal entries (kept when the journal is rewritten)
        self._unsettled: dict[int, bytes] = {}
        self._received = 0  # journalled answers the current courier passed back
        self._spawning: asyncio.Lock | None = None
        # frames for a courier, written at the end of the loop's turn
        self._out: list[tuple[asyncio.subprocess.Process, bytes]] = []
        # False once its folder or the process cannot be had: the bot makes its calls itself
        self.usable = True

    def _unusable(self, exc: OSError) -> None:
        if self.usable:
            log.warning(
                "the courier cannot run (%s): the bot makes its calls itself",
                exc,
                extra={"courier_dir": str(self.directory)},
            )
        self.usable = False

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob(f"courier-{self.key}-*.journal"))

    async def recover(self, mark: Callable[[list[Delivered]], Awaitable[None]]) -> int:
        """Before the sender takes back rows a dead process held: mark "sent" what a journal
        records as delivered. Waits (up to `DRAIN_WAIT`) for a dead bot's courier to finish
        the calls it had in flight; a journal whose owner lives (another replica) is left."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            paths = self._files()
        except OSError as exc:
            self._unusable(exc)
            return 0
        marked = 0
        for path in paths:
            if str(path) in _HELD:
                continue
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
            try:
                deadline = time.monotonic() + DRAIN_WAIT
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        # held: by a live process's courier (left alone), or by the courier
                        # of a bot that died on this host, finishing its calls (waited for)
                        owner = _owner(fd)
                        orphan = (
                            owner is not None
                            and owner[1] == socket.gethostname()
                            and (owner[0] == os.getpid() or not _alive(owner[0]))
                        )
                        if not orphan or time.monotonic() > deadline:
                            if orphan:
                                log.warning(
                                    "courier journal still locked", extra={"path": str(path)}
                                )
                            fd = _closed(fd)
                            break
                        await asyncio.sleep(0.1)
                if fd < 0:
                    continue
                found = read_journal(fd)
                if found:
                    await mark(found)
                    marked += len(found)
                os.ftruncate(fd, 0)
            finally:
                if fd >= 0:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
        if marked:
            log.warning(
                "marked sent: calls a stopped process's courier delivered",
                extra={"marked": marked},
            )
        return marked

    def _take_journal(self) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        n = 0
        while True:
            path = self.directory / f"courier-{self.key}-{n}.journal"
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                n += 1
                continue
            if read_journal(fd):
                # left by a process that died after this one recovered: not ours to empty
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                n += 1
                continue
            os.ftruncate(fd, 0)
            _HELD.add(str(path))
            self._path = str(path)
            return fd

    async def _spawn(self) -> None:
        if self._spawning is None:
            self._spawning = asyncio.Lock()
        async with self._spawning:
            if self._proc is not None and self._proc.returncode is None:
                return
            try:
                if self._fd is None:
                    self._fd = self._take_journal()
                self._proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot.runtime.courier",
                    str(self._fd),
                    self.base_url,
                    str(self.connections),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    pass_fds=(self._fd,),
                )
            except OSError as exc:
                self._unusable(exc)
                raise NetworkError("the courier could not start") from exc
            self._received = 0
            self._reader = asyncio.create_task(self._read(self._proc))

    async def start(self) -> None:
        """Start the courier before the first call (a call starts it too); where it cannot
        run, the bot makes its calls itself (`usable` is False)."""
        with contextlib.suppress(NetworkError):
            await self._spawn()

    async def call(self, row_id: int, chat_id: int, method: str, payload: dict[str, Any]) -> Any:
        """Make one call through the courier: its `result`, or python-telegram-bot's error."""
        if self._proc is None or self._proc.returncode is not None or self._proc.stdin is None:
            await self._spawn()
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        self._seq += 1
        n = self._seq
        future: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._waiting[n] = (proc, row_id, chat_id, future)
        body = body_of(payload)
        self._send(proc, b"C %d %d %d %s %d\n" % (n, row_id, chat_id, method.encode(), len(body)))
        self._send(proc, body)
        code, raw = await future
        return answer(code, raw)

    def settled(self, row_id: int) -> None:
        """A delivered row is marked "sent". After `ROTATE_EVERY` answers, once every one is
        marked (or after twice as many, under constant traffic, whatever waits) the courier is
        told how many it passed back and given the entries still unmarked: it rewrites the
        journal to those and the answers on their way back."""
        self._unsettled.pop(row_id, None)
        proc = self._proc
        if (
            self._received >= ROTATE_EVERY
            and (not self._unsettled or self._received >= 2 * ROTATE_EVERY)
            and proc is not None
            and proc.stdin is not None
            and proc.returncode is None
        ):
            keep = b"".join(self._unsettled.values())
            self._send(proc, b"R %d %d\n" % (self._received, len(keep)))
            self._send(proc, keep)
            self._received = 0

    def _send(self, proc: asyncio.subprocess.Process, data: bytes) -> None:
        """Queue bytes for the courier: the frames of one turn of the loop go in one write."""
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush)
        self._out.append((proc, data))

    def _flush(self) -> None:
        queued, self._out = self._out, []
        by_proc: dict[asyncio.subprocess.Process, list[bytes]] = {}
        for proc, data in queued:
            by_proc.setdefault(proc, []).append(data)
        for proc, frames in by_proc.items():
            # a courier that stopped meanwhile never gets them: `_orphaned` answers their calls
            if proc.returncode is None and proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.write(b"".join(frames))

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        stdout = proc.stdout
        assert stdout is not None
        try:
            while (head := await stdout.readline()).endswith(b"\n"):
                try:
                    kind, *fields = head.split()
                    body = await stdout.readexactly(int(fields[-1]))
                    waiting = self._waiting.pop(int(fields[0]), None)
                except (ValueError, IndexError, asyncio.IncompleteReadError):
                    if proc.returncode is None:
                        log.warning("the courier's answer was unreadable: it is stopped")
                        proc.kill()
                    break
                journalled = kind == b"A" and fields[2] == b"1"
                if journalled and proc is self._proc:
                    self._received += 1
                if waiting is None:
                    continue
                _, row_id, chat_id, future = waiting
                if journalled:
                    mid = fields[3]
                    self._unsettled[row_id] = entry(
                        row_id, chat_id, None if mid == b"-" else int(mid)
                    )
                if future.done():
                    continue
                if kind == b"A":
                    future.set_result((int(fields[1]), body))
                else:
                    error = TimedOut if fields[1] == b"timeout" else NetworkError
                    description = body.decode("utf-8", "replace") or "courier: no answer"
                    future.set_exception(error(description))
        finally:
            # stopped reading (its output ended, or this task was cancelled: the loop closes
            # without `close`): its input ends too, so it finishes its calls and exits
            if proc.stdin is not None and proc.returncode is None:
                proc.stdin.close()
            await proc.wait()
            self._orphaned(proc)

    def _orphaned(self, proc: asyncio.subprocess.Process) -> None:
        """`proc` stopped: a call it journalled is answered from the journal (it was
        delivered); any other call it had fails as a network error (retried)."""
        mine = [n for n, (p, _, _, _) in self._waiting.items() if p is proc]
        if not mine:
            return
        delivered: dict[int, tuple[int, int | None]] = {}
        if self._fd is not None:
            delivered = {row: (chat, mid) for row, chat, mid in read_journal(self._fd)}
        for n in mine:
            _, row_id, _, future = self._waiting.pop(n)
            if future.done():
                continue
            if row_id in delivered:
                chat_id, mid = delivered[row_id]
                self._unsettled[row_id] = entry(row_id, chat_id, mid)
                body = {"ok": True, "result": {"message_id": mid} if mid is not None else True}
                future.set_result((200, _dumps(body).encode()))
            else:
                future.set_exception(NetworkError("the courier stopped before an answer"))

    async def close(self) -> None:
        """Stop the courier: it finishes its calls in flight; their answers arrive first."""
        proc = self._proc
        self._flush()
        if proc is not None and proc.returncode is None and proc.stdin is not None:
            proc.stdin.close()
            with contextlib.suppress(Exception):
                await proc.stdin.wait_closed()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._reader), DRAIN_WAIT)
            if not self._reader.done():
                if proc is not None and proc.returncode is None:
                    proc.kill()
                await asyncio.gather(self._reader, return_exceptions=True)
        self._proc, self._reader = None, None
        if self._fd is not None and not self._unsettled and not self._waiting:
            # every answer it journalled is marked: the next start has nothing to recover
            os.ftruncate(self._fd, 0)
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
            _HELD.discard(self._path)


def _closed(fd: int) -> int:
    os.close(fd)
    return -1


async def _serve(fd: int, base_url: str, connections: int) -> None:
    """The courier's side: one call per frame, answers journalled, then passed back."""
    api = BotApi(base_url, connections)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    transport, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, sys.stdout.buffer)
    # SIGTERM: no new call, as when the bot is gone (its input ends)
    loop.add_signal_handler(signal.SIGTERM, reader.feed_eof)
    header = _header()
    os.write(fd, header)
    # the entries journalled since the last rotate, in the order their answers went back
    journalled: list[bytes] = []
    tasks: set[asyncio.Task[None]] = set()

    out: list[bytes] = []

    def flush() -> None:
        frames = b"".join(out)
        out.clear()
        if frames and not transport.is_closing():
            with contextlib.suppress(Exception):
                transport.write(frames)

    def passed_back(head: bytes, body: bytes) -> None:
        # the answers of one turn of the loop go back in one write
        if not out:
            loop.call_soon(flush)
        out.append(head)
        out.append(body)

    def failed(n: bytes, kind: bytes, description: str) -> None:
        text = description.encode("utf-8", "replace")
        passed_back(b"E %s %s %d\n" % (n, kind, len(text)), text)

    async def one(n: bytes, row: int, chat: int, method: str, body: bytes) -> None:
        try:
            code, raw = await api.post_body(method, body)
        except TimedOut as exc:
            failed(n, b"timeout", str(exc))
            return
        except NetworkError as exc:
            failed(n, b"network", str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - refused, never sent
            failed(n, b"network", f"courier: {type(exc).__name__}")
            return
        if 200 <= code <= 299:
            try:
                mid = message_id_of(json.loads(raw)["result"])
            except Exception:  # noqa: BLE001 - delivered all the same; the bot reads the answer
                mid = None
            line = entry(row, chat, mid)
            os.write(fd, line)
            journalled.append(line)
            passed_back(b"A %s %d 1 %s %d\n" % (n, code, _mid(mid), len(raw)), raw)
        else:
            passed_back(b"A %s %d 0 - %d\n" % (n, code, len(raw)), raw)

    while True:
        try:
            kind, *fields = (await reader.readuntil(b"\n")).split()
            body = await reader.readexactly(int(fields[-1]))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            break  # the bot is gone (a torn last call was never a whole call)
        except (ValueError, IndexError):
            log.warning("courier: an unreadable frame; the rest of the input is not read")
            break
        if kind == b"R":
            # the bot received the first `answers` journalled since the last rotate and sends
            # the entries of those not marked yet: they and the answers on their way back stay
            answers = min(int(fields[0]), len(journalled))
            del journalled[:answers]
            os.ftruncate(fd, 0)
            os.write(fd, header + body + b"".join(journalled))
            continue
        try:
            n, row, chat, method = fields[0], int(fields[1]), int(fields[2]), fields[3].decode()
            if not method.isalnum():
                raise ValueError(method)
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            failed(fields[0], b"network", f"courier: {type(exc).__name__}")  # fields[-1] was read
            continue
        task = asyncio.create_task(one(n, row, chat, method, body))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    flush()
    await api.close()
    with contextlib.suppress(Exception):
        transport.close()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C: the bot closes our input
    fd, base_url, connections = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    asyncio.run(_serve(fd, base_url, connections))


if __name__ == "__main__":
    main()
