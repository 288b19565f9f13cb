"""A GGUF v3 writer for what this project exports: scalar, string and array metadata, F32 and F16
tensors. Debian packages no `gguf` Python module, and the format is small enough to state here:
https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
"""
import struct

import numpy as np

ALIGNMENT = 32
_UINT32, _INT32, _FLOAT32, _BOOL, _STRING, _ARRAY = 4, 5, 6, 7, 8, 9
_TENSOR_TYPES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1}


def _string(value: str) -> bytes:
    data = value.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _typed(value) -> tuple[int, bytes]:
    if isinstance(value, bool):
        return _BOOL, struct.pack("<?", value)
    if isinstance(value, int):
        return (_UINT32, struct.pack("<I", value)) if value >= 0 else (_INT32, struct.pack("<i", value))
    if isinstance(value, float):
        return _FLOAT32, struct.pack("<f", value)
    if isinstance(value, str):
        return _STRING, _string(value)
    if isinstance(value, np.ndarray) and value.dtype in (np.int32, np.float32):
        kind = _INT32 if value.dtype == np.int32 else _FLOAT32
        return _ARRAY, struct.pack("<IQ", kind, len(value)) + value.astype("<" + value.dtype.str[1:]).tobytes()
    if isinstance(value, list):
        kinds = {_typed(item)[0] for item in value}
        if len(kinds) != 1:
            raise ValueError("GGUF arrays hold one type")
        kind = kinds.pop()
        body = b"".join(_typed(item)[1] for item in value)
        return _ARRAY, struct.pack("<IQ", kind, len(value)) + body
    raise TypeError(f"no GGUF type for {type(value).__name__}")


def _pad(length: int) -> int:
    return (ALIGNMENT - length % ALIGNMENT) % ALIGNMENT


def write_gguf(path: str, metadata: dict, tensors: dict[str, np.ndarray]) -> None:
    """`tensors` are row-major numpy arrays; GGUF lists dimensions innermost first."""
    header = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)))
    for key, value in metadata.items():
        kind, body = _typed(value)
        header += _string(key) + struct.pack("<I", kind) + body
    offset = 0
    blobs = []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        if array.dtype not in _TENSOR_TYPES:
            raise TypeError(f"{name}: dtype {array.dtype} not supported")
        dims = list(reversed(array.shape))
        header += _string(name) + struct.pack("<I", len(dims))
        header += struct.pack(f"<{len(dims)}Q", *dims)
        header += struct.pack("<IQ", _TENSOR_TYPES[array.dtype], offset)
        data = array.tobytes()
        blobs.append(data + b"\0" * _pad(len(data)))
        offset += len(blobs[-1])
    header += b"\0" * _pad(len(header))
    with open(path, "wb") as handle:
        handle.write(header)
        for blob in blobs:
            handle.write(blob)
