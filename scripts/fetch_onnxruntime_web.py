"""Fetch onnxruntime-web's WebAssembly build into book/_static/live/ort/ (make book does this
once; the files are not committed: the .wasm alone is 14 MB).

The package comes from the npm registry, as pip's packages come from PyPI, and is checked
against the SHA-256 pinned here, so every build serves the same bytes. Only the WebAssembly
runtime is kept: its script, the loader module it imports, and the binary. The live widgets
run it with one thread, so the page needs no cross-origin isolation; the binary is fetched by a
reader's browser only when a widget is first used.
"""

from __future__ import annotations

import hashlib
import io
import re
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "1.30.0"
URL = f"https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-{VERSION}.tgz"
SHA256 = "d2228df7e4616bc3348bf504ee888f3bec43789a273f0a63f3e68d203ce3bf71"
FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
TARGET = Path(__file__).resolve().parents[1] / "book" / "_static" / "live" / "ort"


def main() -> int:
    try:
        with urllib.request.urlopen(URL, timeout=120) as response:
            archive = response.read()
    except OSError as error:
        print(f"could not download {URL} ({error}); the live widgets need it", file=sys.stderr)
        return 1
    digest = hashlib.sha256(archive).hexdigest()
    if digest != SHA256:
        print(f"{URL}: SHA-256 {digest}, expected {SHA256}", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for name in FILES:
            data = tar.extractfile(f"package/dist/{name}").read()
            if name.endswith(".js"):  # no request for a source map the site does not serve
                data = re.sub(rb"//# sourceMappingURL=\S*", b"", data)
            (TARGET / name).write_bytes(data)
    (TARGET / "VERSION").write_text(
        f"onnxruntime-web {VERSION} from the npm registry (sha256 {SHA256}).\n"
        "MIT License, (c) Microsoft Corporation: https://github.com/microsoft/onnxruntime\n")
    print(f"wrote {TARGET} (onnxruntime-web {VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
