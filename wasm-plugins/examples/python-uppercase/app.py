"""A Sluice transform written in Python: upper-cases text values and tags each record with a
header. Built into a WebAssembly component with componentize-py (see docs/wasm-plugins.md)."""
from typing import List, Optional, Tuple

import wit_world
from componentize_py_types import Err
from wit_world.imports import types


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

    def apply(self, records: List[types.ConnectRecord]) -> List[Optional[types.ConnectRecord]]:
        out = []
        for r in records:
            p = r.value.payload
            if isinstance(p, types.Payload_Text):
                r.value = types.Data(r.value.schema, types.Payload_Text(p.value.upper()))
            elif isinstance(p, types.Payload_Bytes):
                r.value = types.Data(r.value.schema, types.Payload_Bytes(p.value.upper()))
            r.headers.append(types.Header(WitWorld.header, types.Data(None, types.Payload_Text("python"))))
            out.append(r)
        return out
