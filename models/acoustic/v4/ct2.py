"""Read a CTranslate2 `model.bin` (binary version 6) into float32 tensors.

Layout (docs: ../shared/docs/models.md): u32 version; str spec name; u32 revision; u32 count;
then per variable: str name, u8 rank, u32 dims[rank], u8 dtype, u32 nbytes, data; then aliases.
str = u16 length + bytes (NUL-padded). dtypes: 0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16.
"""
import struct

import numpy as np

DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read(path: str, prefix: str = "") -> dict[str, np.ndarray]:
    """Variables whose name starts with `prefix`, as arrays (float16 widened to float32)."""
    out = {}
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def u(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def s():
        nonlocal pos
        n = u("H")
        raw = data[pos : pos + n]
        pos += n
        return raw.rstrip(b"\0").decode()

    version = u("I")
    if version != 6:
        raise ValueError(f"{path}: CTranslate2 binary version {version}, expected 6")
    s()
    u("I")
    for _ in range(u("I")):
        name = s()
        rank = u("B")
        dims = [u("I") for _ in range(rank)]
        dtype = u("B")
        nbytes = u("I")
        raw = data[pos : pos + nbytes]
        pos += nbytes
        if not name.startswith(prefix):
            continue
        if dtype not in DTYPES:
            raise ValueError(f"{name}: dtype {dtype} not supported")
        arr = np.frombuffer(raw, dtype=DTYPES[dtype]).reshape(dims)
        out[name] = arr.astype(np.float32) if dtype == 4 else arr.copy()
    return out
