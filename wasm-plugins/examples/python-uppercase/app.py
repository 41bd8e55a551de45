"""A Sluice transform written in Python: upper-cases text values and tags each record with a
header. Built into a WebAssembly component with componentize-py (see docs/wasm-plugins.md).

Records arrive as one `record-batch` buffer (the binary form documented in
`sdk/src/record_batch.rs`). This transform only touches the value and the headers, so it
copies everything else through as bytes: keys, schemas and the schema table stay as they are."""
import struct
from typing import List, Tuple

import wit_world
from componentize_py_types import Err
from wit_world.imports import types

U32 = struct.Struct("<I")
FIXED = {1: 1, 2: 2, 3: 4, 4: 8, 5: 4, 6: 8}  # value tags of numbers and their sizes


class Reader:
    def __init__(self, buf: bytes):
        self.buf, self.pos = buf, 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.buf):
            raise ValueError(f"truncated at byte {self.pos}")
        out = self.buf[self.pos:end]
        self.pos = end
        return out

    def u32(self) -> int:
        return U32.unpack(self.take(4))[0]

    def skip_value(self, depth: int = 0) -> None:
        if depth > 128:
            raise ValueError("nested too deep")
        tag = self.take(1)[0]
        if tag in (0, 7, 8):
            return
        if tag in FIXED:
            self.take(FIXED[tag])
        elif tag in (9, 10):
            self.take(self.u32())
        elif tag == 11:
            for _ in range(self.u32()):
                self.skip_value(depth + 1)
        elif tag == 12:
            for _ in range(2 * self.u32()):
                self.skip_value(depth + 1)
        elif tag == 13:
            for _ in range(self.u32()):
                self.take(self.u32())
                self.skip_value(depth + 1)
        else:
            raise ValueError(f"unknown value tag {tag} at byte {self.pos - 1}")


def text_value(s: str) -> bytes:
    b = s.encode()
    return bytes([9]) + U32.pack(len(b)) + b


def upper(value: bytes) -> bytes:
    if value[0] == 9:
        return text_value(value[5:].decode().upper())
    if value[0] == 10:
        return value[:5] + value[5:].upper()
    return value


class WitWorld(wit_world.WitWorld):
    header = "transformed-by"

    def info(self) -> types.PluginInfo:
        return types.PluginInfo(
            name="com.example.sluice.python.UpperCase",
            version="0.1.0",
            kind=types.PluginKind.TRANSFORM,
            config=[types.ConfigKey("header", "STRING", "transformed-by", "LOW", "Header added to every record (its value: python)")],
        )

    def configure(self, config: List[Tuple[str, str]]) -> None:
        props = dict(config)
        header = props.get("header", "transformed-by").strip()
        if not header:
            raise Err(types.ConnectError_Config(("header", "must not be empty")))
        WitWorld.header = header

    def apply(self, records: bytes) -> bytes:
        try:
            return self.transform(records)
        except (ValueError, UnicodeDecodeError) as e:
            raise Err(types.ConnectError_Fatal(f"malformed record batch: {e}"))

    def transform(self, batch: bytes) -> bytes:
        r = Reader(batch)
        count, records_len = r.u32(), r.u32()
        schema_table = batch[8 + records_len:]
        name = WitWorld.header.encode()
        tag = U32.pack(len(name)) + name + U32.pack(0) + text_value("python")
        out = bytearray()
        for _ in range(count):
            start = r.pos
            if r.take(1)[0] != 1:
                raise ValueError("the host sent a dropped record")
            r.take(r.u32())  # topic
            if r.take(1)[0]:
                r.take(4)  # partition
            if r.take(1)[0]:
                r.take(8)  # timestamp
            r.u32()  # key schema
            r.skip_value()  # key
            value_at = r.pos
            schema = r.take(4)
            r.skip_value()
            value = batch[value_at + 4:r.pos]
            headers = r.u32()
            headers_at = r.pos
            for _ in range(headers):
                r.take(r.u32())
                r.u32()
                r.skip_value()
            out += batch[start:value_at] + schema + upper(value) + U32.pack(headers + 1) + batch[headers_at:r.pos] + tag
        return U32.pack(count) + U32.pack(len(out)) + bytes(out) + schema_table
