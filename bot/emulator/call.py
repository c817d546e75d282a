"""One Bot API call being served: its parameters, uploads and typed accessors."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.emulator.state import StoredFile, World
from bot.emulator.validation import ApiError, bad_request

if TYPE_CHECKING:
    from bot.emulator.flood import FloodControl
    from bot.emulator.webhook import WebhookDeliverer


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass
class Call:
    """Context handed to a Bot API method implementation."""

    method: str
    params: dict[str, Any]
    world: World
    flood: FloodControl
    webhook: WebhookDeliverer | None = None
    uploads: dict[str, Upload] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        value = self.params.get(name)
        return (value is not None and value != "") or name in self.uploads

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        if value is None:
            return default
        return value if isinstance(value, str) else json.dumps(value)

    def int(self, name: str, default: int | None = None) -> int | None:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def float(self, name: str) -> float:
        try:
            return float(self.params[name])
        except (KeyError, TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1", "yes")

    def json(self, name: str) -> Any:
        value = self.params.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    # -- common lookups -----------------------------------------------------
    def chat(self, name: str = "chat_id", *, sending: bool = True) -> dict[str, Any]:
        if not self.has(name):
            raise bad_request(f"{name} is empty")
        chat = self.world.resolve_chat(self.params[name])
        if chat is None:
            raise bad_request("chat not found")
        if sending and chat["type"] == "private" and chat["id"] in self.world.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if sending and chat["type"] == "channel":
            rights = self.world.admins.get(chat["id"], {}).get(self.world.bot["id"])
            if rights is None:
                raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
            if not rights.get("can_post_messages"):
                raise bad_request("need administrator rights in the channel chat")
        return chat

    def file(self, name: str, kind: str, ext: str) -> tuple[StoredFile, Upload | None]:
        """Resolve an InputFile-or-String parameter to a stored file."""
        upload = self.uploads.get(name)
        value = self.params.get(name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = self.uploads.get(value[len("attach://") :])
            if upload is None:
                raise bad_request(f"file for {value} not found in the request")
        return self.resolve_media(value, upload, kind, ext, name)

    def resolve_media(
        self, value: Any, upload: Upload | None, kind: str, ext: str, name: str
    ) -> tuple[StoredFile, Upload | None]:
        if upload is not None:
            return self.world.store_file(upload.data, kind, ext), upload
        if not value:
            raise bad_request(f"there is no {name} in the request")
        value = str(value)
        if value in self.world.files:
            stored = self.world.files[value]
            if (kind == "photo") != (stored.kind == "photo"):
                # Telegram keeps a file's type: a document's id is no photo, nor the reverse.
                raise bad_request("type of file mismatch")
            return stored, None
        if value.startswith(("http://", "https://")):
            return self.world.store_file(b"", kind, ext), None
        raise bad_request("wrong file identifier/HTTP URL specified")


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, GIF or JPEG image; 640x480 when unknown."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return struct.unpack(">II", data[16:24])
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", data[6:10])
        if data[:2] == b"\xff\xd8":
            i = 2
            while i < len(data) - 9:
                if data[i] != 0xFF:
                    i += 1
                    continue
                marker = data[i + 1]
                length = struct.unpack(">H", data[i + 2 : i + 4])[0]
                if marker in (0xC0, 0xC1, 0xC2):
                    h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                    return w, h
                i += 2 + length
    except struct.error:
        pass
    return 640, 480


def photo_sizes(world: World, stored: StoredFile) -> list[dict[str, Any]]:
    """PhotoSize list (a thumbnail and the full size) for a stored image."""
    width, height = image_size(stored.data)
    thumb_id = stored.file_id + "-t"
    world.files.setdefault(thumb_id, stored)
    scale = min(1.0, 90 / max(width, height, 1))
    return [
        {
            "file_id": thumb_id,
            "file_unique_id": stored.file_unique_id + "t",
            "width": max(1, int(width * scale)),
            "height": max(1, int(height * scale)),
            "file_size": len(stored.data),
        },
        {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
            "file_size": len(stored.data),
        },
    ]
