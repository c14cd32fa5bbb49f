"""Render the application icon from rmclinic.svg into every file the packages need (run after editing the SVG):

    .venv/bin/python packaging/icons/render.py

- ``rmclinic-N.png`` for N in 16 … 512 (Linux hicolor theme, the tarball and AppImage);
- ``rmclinic.ico`` (Windows: the executables and the installer), PNG-compressed entries 16 … 256;
- ``rmclinic.icns`` (macOS: the .app bundle), 16 … 1024;
- ``resources/icons/rmclinic.png`` (256 px): the window icon, shipped in the wheel and the bundle.

Qt's own SVG renderer (PySide6's QtSvg) draws them offscreen; the .ico and .icns containers are written here
(both simply hold PNG images), so no other tool is needed.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SVG = HERE / "rmclinic.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# icns entry types that hold PNG data, by pixel size
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09", 1024: b"ic10"}


def render_png(size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {SVG}")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def ico(images: dict[int, bytes]) -> bytes:
    """An ICO file whose entries are PNG images (Windows Vista and later)."""
    sizes = sorted(images)
    head = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(head) + 16 * len(sizes)
    entries = b""
    body = b""
    for s in sizes:
        data = images[s]
        side = 0 if s >= 256 else s  # 0 means 256
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset + len(body))
        body += data
    return head + entries + body


def icns(images: dict[int, bytes]) -> bytes:
    body = b"".join(ICNS_TYPES[s] + struct.pack(">I", 8 + len(images[s])) + images[s] for s in sorted(images))
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication(sys.argv[:1])
    pngs = {s: render_png(s) for s in sorted({*PNG_SIZES, *ICO_SIZES, *ICNS_TYPES})}
    written = []
    for s in PNG_SIZES:
        path = HERE / f"rmclinic-{s}.png"
        path.write_bytes(pngs[s])
        written.append(path)
    (HERE / "rmclinic.ico").write_bytes(ico({s: pngs[s] for s in ICO_SIZES}))
    (HERE / "rmclinic.icns").write_bytes(icns({s: pngs[s] for s in ICNS_TYPES}))
    window = ROOT / "resources" / "icons" / "rmclinic.png"
    window.parent.mkdir(exist_ok=True)
    window.write_bytes(pngs[256])
    written += [HERE / "rmclinic.ico", HERE / "rmclinic.icns", window]
    for path in written:
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
