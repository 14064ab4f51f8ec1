"""Reader (and a small writer, for the tiny CI configuration) of CTranslate2's ``model.bin``.

Binary layout, version 6, little endian, as CTranslate2 writes it:

    u32 version | str spec_name | u32 revision | u32 n_variables
    n_variables x (str name | u8 rank | rank x u32 dim | u8 dtype_id | u32 nbytes | bytes)
    u32 n_aliases | n_aliases x (str alias | str target)

where ``str`` is ``u16 length-including-NUL`` followed by the bytes and a NUL.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

SUPPORTED_VERSION = 6
# CTranslate2's DataType enumeration.
_DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
}
_DTYPE_IDS = {v: k for k, v in _DTYPES.items()}


class CT2FormatError(ValueError):
    """The file is not a CTranslate2 model.bin this reader understands."""


@dataclass(frozen=True)
class CT2Model:
    spec: str
    revision: int
    variables: dict[str, np.ndarray] = field(repr=False)
    aliases: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> np.ndarray:
        """Variable by name (aliases resolved), as float32 for float storage."""
        name = self.aliases.get(name, name)
        if name not in self.variables:
            raise KeyError(f"model.bin has no variable {name!r}")
        value = self.variables[name]
        return value.astype(np.float32) if value.dtype.kind == "f" else value

    def has(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.variables


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise CT2FormatError(f"truncated model.bin: wanted {n} bytes, got {len(data)}")
    return data


def _read_str(stream: BinaryIO) -> str:
    (length,) = struct.unpack("<H", _read_exact(stream, 2))
    raw = _read_exact(stream, length)
    if not raw.endswith(b"\0"):
        raise CT2FormatError("string without NUL terminator")
    return raw[:-1].decode("utf-8")


def read_model_bin(path: Path) -> CT2Model:
    """Parse ``model.bin``; raises :class:`CT2FormatError` on anything unexpected."""
    with open(path, "rb") as stream:
        (version,) = struct.unpack("<I", _read_exact(stream, 4))
        if version != SUPPORTED_VERSION:
            raise CT2FormatError(f"model.bin version {version}, only {SUPPORTED_VERSION} read")
        spec = _read_str(stream)
        (revision, count) = struct.unpack("<II", _read_exact(stream, 8))
        variables: dict[str, np.ndarray] = {}
        for _ in range(count):
            name = _read_str(stream)
            (rank,) = struct.unpack("<B", _read_exact(stream, 1))
            shape = struct.unpack(f"<{rank}I", _read_exact(stream, 4 * rank))
            (dtype_id,) = struct.unpack("<B", _read_exact(stream, 1))
            (nbytes,) = struct.unpack("<I", _read_exact(stream, 4))
            if dtype_id not in _DTYPES:
                raise CT2FormatError(f"variable {name!r}: unknown dtype id {dtype_id}")
            dtype = _DTYPES[dtype_id]
            if nbytes != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
                raise CT2FormatError(f"variable {name!r}: {nbytes} bytes for shape {shape}")
            data = np.frombuffer(_read_exact(stream, nbytes), dtype=dtype).reshape(shape)
            variables[name] = data
        aliases: dict[str, str] = {}
        tail = stream.read(4)
        if tail:
            (n_alias,) = struct.unpack("<I", tail)
            for _ in range(n_alias):
                alias = _read_str(stream)
                aliases[alias] = _read_str(stream)
        if stream.read(1):
            raise CT2FormatError("trailing bytes after the alias table")
    return CT2Model(spec=spec, revision=revision, variables=variables, aliases=aliases)


def _write_str(stream: BinaryIO, text: str) -> None:
    raw = text.encode("utf-8") + b"\0"
    stream.write(struct.pack("<H", len(raw)))
    stream.write(raw)


def write_model_bin(path: Path, model: CT2Model) -> None:
    """Write ``model`` in the same layout (used to make the tiny CI model)."""
    with open(path, "wb") as stream:
        stream.write(struct.pack("<I", SUPPORTED_VERSION))
        _write_str(stream, model.spec)
        stream.write(struct.pack("<II", model.revision, len(model.variables)))
        for name, value in model.variables.items():
            arr = np.array(value, order="C")
            if arr.dtype not in _DTYPE_IDS:
                raise CT2FormatError(f"cannot store dtype {arr.dtype} for {name!r}")
            _write_str(stream, name)
            stream.write(struct.pack("<B", arr.ndim))
            stream.write(struct.pack(f"<{arr.ndim}I", *arr.shape))
            stream.write(struct.pack("<BI", _DTYPE_IDS[arr.dtype], arr.nbytes))
            stream.write(arr.tobytes())
        stream.write(struct.pack("<I", len(model.aliases)))
        for alias, target in model.aliases.items():
            _write_str(stream, alias)
            _write_str(stream, target)
