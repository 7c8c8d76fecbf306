"""The client side, as libteec offers it: sessions opened on a TA by UUID, commands
invoked in them, sessions closed; and the instances behind them.

A TA whose header lacks TA_FLAG_SINGLE_INSTANCE gets a fresh instance (a process) per
session. A single-instance TA has one instance for all its sessions (TEE_ERROR_BUSY for
a second one unless it is multi-session), kept after its last session only with
TA_FLAG_INSTANCE_KEEP_ALIVE. An instance that panics or faults is gone: its sessions
answer TEE_ERROR_TARGET_DEAD, and a new session starts a new instance.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, TextIO

from slimbox.kernel.cred import Credentials
from slimbox.kernel.fd import FdTable
from slimbox.kernel.file import O_RDONLY
from slimbox.kernel.fs.vfs import FsContext
from slimbox.shims.optee import abi
from slimbox.shims.optee.instance import Outcome, TaInstance
from slimbox.shims.optee.loader import TaHeader, load_ldelf, load_ta, read_ta_header
from slimbox.shims.optee.params import Param, ParamSet
from slimbox.shims.optee.personality import OpteePersonality

if TYPE_CHECKING:
    from slimbox.kernel.file import File
    from slimbox.kernel.fs.vfs import PathNode
    from slimbox.kernel.kernel import Kernel
    from slimbox.shims.optee.storage import TaStorage


class _LoadError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(abi.result_name(code))
        self.code = code


class TeeClientError(Exception):
    """A request the TEE refused before any TA ran (unknown UUID, closed session...)."""

    def __init__(self, code: int, origin: int, message: str) -> None:
        super().__init__(f"{message} ({abi.result_name(code)})")
        self.code = code
        self.origin = origin


class OpenSessionError(TeeClientError):
    """TEEC_OpenSession failed; `params` are the parameters as the TA left them."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.code, outcome.origin, "the session could not be opened")
        self.params = outcome.params.params


@dataclass
class TaImage:
    node: PathNode
    header: TaHeader


@dataclass
class InvokeResult:
    code: int
    origin: int
    params: list[Param]

    @property
    def ok(self) -> bool:
        return self.code == abi.TEE_SUCCESS


#: a client application's identity: TEEC_LOGIN_PUBLIC, no UUID
PUBLIC_CLIENT = (abi.TEE_LOGIN_PUBLIC, bytes(16))
#: how deep TAs may open sessions on TAs that open sessions on TAs...
MAX_NESTING = 4


class Session:
    def __init__(self, core: TeeCore, session_id: int, instance: TaInstance,
                 client: tuple[int, bytes] = PUBLIC_CLIENT) -> None:
        self._core = core
        self.id = session_id
        self.instance = instance
        #: who opened the session (login type, UUID): a client application or a TA
        self.client = client
        self.closed = False
        #: the open-session parameters as the TA left them
        self.opened_with: list[Param] = []

    def invoke(self, command: int, params: list[Param] | None = None,
               cancel_after: float | None = None) -> InvokeResult:
        """TEEC_InvokeCommand: run command `command` with up to four parameters;
        `cancel_after` seconds into it, TEEC_RequestCancellation."""
        if self.closed:
            raise TeeClientError(abi.TEE_ERROR_BAD_STATE, abi.TEE_ORIGIN_API, "the session is closed")
        if not 0 <= command <= 0xFFFFFFFF:
            raise TeeClientError(abi.TEE_ERROR_BAD_PARAMETERS, abi.TEE_ORIGIN_API, "command ids are 32-bit")
        kernel = self._core.kernel
        cancel_at = None if cancel_after is None else kernel.monotonic_ns() + int(cancel_after * 1e9)
        outcome = self.instance.enter(abi.ENTRY_INVOKE_COMMAND, self.id, ParamSet.of(params), command,
                                      self._core.deadline(), self.client, cancel_at)
        return InvokeResult(outcome.code, outcome.origin, outcome.params.params)

    def close(self) -> None:
        """TEEC_CloseSession (a dead instance has nothing left to close)."""
        if self.closed:
            return
        self.closed = True
        self._core.close_session(self)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class TeeCore:
    """The TEE's session and instance bookkeeping on one kernel (whose platform must
    be attached while requests run)."""

    def __init__(self, kernel: Kernel, storage_for: Callable[[bytes], TaStorage | None],
                 request_timeout_s: float | None = None, ldelf: PathNode | None = None,
                 strace: TextIO | None = None) -> None:
        self.kernel = kernel
        self._strace = strace
        #: a loader binary that loads each TA in its own process, or None: the kernel loads TAs
        self.ldelf = ldelf
        self._storage_for = storage_for
        #: how long one request may run before its instance is ended (None: no limit)
        self.request_timeout = request_timeout_s
        self.images: dict[bytes, TaImage] = {}
        self._shared: dict[bytes, TaInstance] = {}
        self._session_ids = itertools.count(1)
        self.sessions: dict[int, Session] = {}
        #: sessions TAs have open on other TAs, inside one another, right now
        self.nesting = 0

    def deadline(self) -> int | None:
        if self.request_timeout is None:
            return None
        return self.kernel.monotonic_ns() + int(self.request_timeout * 1e9)

    def install(self, node: PathNode) -> TaHeader:
        """Make the TA at `node` (a file in the sandbox) known by its header's UUID."""
        file = node.inode.open(O_RDONLY)
        try:
            header = read_ta_header(lambda offset, length: file.pread(length, offset))
        finally:
            file.release()
        self.images[header.uuid] = TaImage(node, header)
        return header

    def open_session(self, uuid: bytes | str, params: list[Param] | None = None,
                     client: tuple[int, bytes] = PUBLIC_CLIENT) -> Session:
        """TEEC_OpenSession with TEEC_LOGIN_PUBLIC; raises OpenSessionError when the
        TA refuses (or dies), TeeClientError when no TA has that UUID."""
        raw = abi.parse_uuid(uuid) if isinstance(uuid, str) else bytes(uuid)
        image = self.images.get(raw)
        if image is None:
            raise TeeClientError(abi.TEE_ERROR_ITEM_NOT_FOUND, abi.TEE_ORIGIN_TEE,
                                 f"no TA with UUID {abi.format_uuid(raw)}")
        param_set = ParamSet.of(params)
        try:
            instance = self._instance_for(image)
        except _LoadError as failure:
            raise OpenSessionError(Outcome(failure.code, abi.TEE_ORIGIN_TEE, param_set)) from None
        session_id = next(self._session_ids)
        outcome = instance.enter(abi.ENTRY_OPEN_SESSION, session_id, param_set, 0, self.deadline(), client)
        if outcome.code != abi.TEE_SUCCESS:
            self._drop_if_idle(instance)
            raise OpenSessionError(outcome)
        instance.sessions.add(session_id)
        session = Session(self, session_id, instance, client)
        session.opened_with = outcome.params.params
        self.sessions[session_id] = session
        return session

    def close_session(self, session: Session) -> None:
        self.sessions.pop(session.id, None)
        instance = session.instance
        if session.id in instance.sessions:
            instance.sessions.discard(session.id)
            if instance.alive:
                instance.enter(abi.ENTRY_CLOSE_SESSION, session.id, ParamSet.of(None), 0, self.deadline(),
                               session.client)
        self._drop_if_idle(instance)

    def _drop_if_idle(self, instance: TaInstance) -> None:
        from slimbox.shims.optee.sys_session import close_all

        flags = instance.header.flags
        keep = flags & abi.TA_FLAG_SINGLE_INSTANCE and flags & abi.TA_FLAG_INSTANCE_KEEP_ALIVE
        if instance.sessions or (keep and instance.alive):
            return
        close_all(instance)  # the sessions it opened on other TAs end with it
        instance.close()
        if self._shared.get(instance.header.uuid) is instance:
            del self._shared[instance.header.uuid]

    def _instance_for(self, image: TaImage) -> TaInstance:
        flags = image.header.flags
        if flags & abi.TA_FLAG_SINGLE_INSTANCE:
            shared = self._shared.get(image.header.uuid)
            if shared is not None and shared.alive:
                if shared.busy or (shared.sessions and not flags & abi.TA_FLAG_MULTI_SESSION):
                    raise TeeClientError(abi.TEE_ERROR_BUSY, abi.TEE_ORIGIN_TEE,
                                         "the single-session TA already has a session")
                return shared
            instance = self._start(image)
            self._shared[image.header.uuid] = instance
            return instance
        return self._start(image)

    def _start(self, image: TaImage) -> TaInstance:
        kernel = self.kernel
        root = kernel.vfs.root
        personality = OpteePersonality(self._strace)
        task = kernel.new_process(personality, Credentials.of(0, 0), FsContext(root, root), FdTable())
        task.process.comm = b"ta-" + abi.format_uuid(image.header.uuid)[:8].encode()
        program = self.ldelf if self.ldelf is not None else image.node
        file = program.inode.open(O_RDONLY)
        file.path = program
        try:
            if self.ldelf is not None:
                entry, stack_top, argument = load_ldelf(task, file, image.header.uuid)
            else:
                loaded = load_ta(task, file, image.header)
                entry, stack_top = loaded.entry, loaded.stack_top
        except BaseException:
            kernel.exit_process(task.process, 0, 9, "the TA could not be loaded")
            raise
        finally:
            file.release()
        instance = TaInstance(kernel, task, image.header, entry, stack_top,
                              self._storage_for(image.header.uuid), PUBLIC_CLIENT)
        instance.tee = self
        personality.instance = instance
        if self.ldelf is not None:
            instance.open_binary = self._open_binary
            code = instance.run_loader(entry, stack_top, argument, self.deadline())
            if code != abi.TEE_SUCCESS:
                instance.close()
                raise _LoadError(code)
        return instance

    def _open_binary(self, uuid: bytes) -> File | None:
        image = self.images.get(uuid)
        if image is None:
            return None
        file = image.node.inode.open(O_RDONLY)
        file.path = image.node
        return file

    def close(self) -> None:
        for session in list(self.sessions.values()):
            session.close()
        for instance in list(self._shared.values()):
            instance.close()
        self._shared.clear()
