"""Generate tiny real media for tests and benchmarks: espeak-ng speech, PyAV-encoded videos with a face.

Nothing is downloaded: speech comes from the ``espeak-ng`` binary (pitch and rate controllable, so an
emotion can be planted in prosody), pictures are drawn with OpenCV (a face-like pattern whose mouth
curve can be planted too) and muxed with the speech into MP4 (H.264 + AAC) by PyAV.
"""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def speech(text: str, path: Path, *, pitch: int = 50, speed: int = 175, voice: str = "en") -> Path:
    """Synthesize ``text`` to a WAV (espeak-ng's 22.05 kHz mono)."""
    path = Path(path)
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(path), text],
                   check=True, capture_output=True)
    return path


def tone(seconds: float, path: Path, *, freq: float = 220.0, rate: int = 22050) -> Path:
    """A plain sine WAV (for machines without espeak-ng)."""
    import soundfile

    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate)
    return Path(path)


def face_frame(width: int, height: int, t: float, *, smile: float = 0.0, shift: int = 0) -> np.ndarray:
    """An RGB frame with a drawn face (skin ellipse, eyes, brows, mouth curved by ``smile`` in [-1, 1])."""
    import cv2

    img = np.full((height, width, 3), 200, np.uint8)
    cx, cy = width // 2 + shift + int(3 * np.sin(2 * np.pi * t)), height // 2
    fw, fh = int(width * 0.22), int(height * 0.36)
    cv2.ellipse(img, (cx, cy), (fw, fh), 0, 0, 360, (224, 172, 140), -1)
    for dx in (-fw // 2, fw // 2):
        cv2.circle(img, (cx + dx, cy - fh // 4), max(2, fw // 7), (40, 30, 30), -1)
        cv2.line(img, (cx + dx - fw // 5, cy - fh // 2), (cx + dx + fw // 5, cy - fh // 2 - int(4 * smile)),
                 (60, 40, 30), 2)
    cv2.line(img, (cx, cy - fh // 8), (cx, cy + fh // 6), (150, 100, 90), 2)
    mouth = (cx, cy + fh // 2)
    if smile >= 0:
        cv2.ellipse(img, mouth, (fw // 2, max(1, int(fh * 0.2 * smile) + 1)), 0, 0, 180, (120, 30, 40), 2)
    else:
        cv2.ellipse(img, mouth, (fw // 2, max(1, int(fh * 0.2 * -smile) + 1)), 0, 180, 360, (120, 30, 40), 2)
    return img


def shaded_face_frame(width: int, height: int, t: float, *, smile: float = 0.0, shift: int = 0) -> np.ndarray:
    """A shaded face (eye sockets, brows, nose and mouth shadows, hair) that OpenCV's Haar cascades detect.

    Measured: the face and both eyes are found for frowning and neutral mouths (``smile`` <= 0) at
    160x120 to 1280x720, and for a small smile (0.35) at 640x360 and 1280x720; a broad smile (``smile`` = 1)
    is not detected (benchmarks/bench_featurize.py's ``--smiles`` chooses which the corpus has).
    """
    import cv2

    H, W = height, width
    img = np.full((H, W), 235.0, np.float32)
    cx = W // 2 + shift + int(round(0.02 * H * np.sin(2 * np.pi * t)))
    cy = H // 2
    fw, fh = int(H * 0.27), int(H * 0.36)
    yy, xx = np.mgrid[0:H, 0:W]
    r = ((xx - cx) / fw) ** 2 + ((yy - cy) / fh) ** 2
    inside = r < 1
    skin = 190.0
    img[inside] = skin * (1 - 0.09 * r[inside] ** 2)
    for side in (-1, 1):
        ex, ey = cx + side * fw * 0.45, cy - fh * 0.18
        rr = ((xx - ex) / (fw * 0.3)) ** 2 + ((yy - ey) / (fh * 0.135)) ** 2
        m = rr < 1
        img[m] *= 0.55 + 0.45 * rr[m]
        cv2.ellipse(img, (int(ex), int(ey)), (int(fw * 0.2), int(fh * 0.07)), 0, 0, 360, 230, -1)
        cv2.circle(img, (int(ex), int(ey)), max(1, int(fh * 0.06)), 20, -1)
        brow_y = int(ey - fh * (0.17 + 0.05 * smile))
        cv2.ellipse(img, (int(ex), brow_y), (int(fw * 0.25), max(1, int(fh * 0.04))), -4 * side * smile, 0, 360, 50, -1)
    cv2.ellipse(img, (cx, int(cy + fh * 0.15)), (int(fw * 0.12), int(fh * 0.06)), 0, 0, 360, skin * 0.7, -1)
    mouth = (cx, int(cy + fh * 0.45))
    axes = (int(fw * 0.35), max(2, int(fh * (0.05 + 0.06 * abs(smile)))))
    start, end = (0, 180) if smile >= 0 else (180, 360)
    cv2.ellipse(img, mouth, axes, 0, start, end, skin * 0.6, max(1, int(fh * 0.04)))
    cv2.ellipse(img, (cx, int(cy - fh * 0.85)), (int(fw * 1.05), int(fh * 0.35)), 0, 180, 360, 50, -1)
    img = cv2.GaussianBlur(img, (3, 3), 0)
    grey = np.clip(img, 0, 255)
    rgb = np.stack([grey * 1.0, grey * 0.88, grey * 0.78], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def video(path: Path, seconds: float, *, fps: int | Fraction = 10, size: tuple[int, int] = (160, 120),
          audio_wav: Path | None = None, smile: float = 0.0, codec: str = "libx264", shaded: bool = False) -> Path:
    """Write an MP4 with the drawn face for ``seconds`` (and the WAV's audio as AAC when given);
    ``shaded`` draws :func:`shaded_face_frame` (detectable) instead of the flat :func:`face_frame`.
    ``fps`` may be a Fraction (``Fraction(30000, 1001)``: NTSC's 29.97, RAVDESS's rate)."""
    import av
    import soundfile

    path = Path(path)
    width, height = size
    container = av.open(str(path), "w")
    vstream = container.add_stream(codec, rate=fps)
    vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
    astream = None
    if audio_wav is not None:
        wave, rate = soundfile.read(str(audio_wav), dtype="float32", always_2d=True)
        wave = wave.mean(axis=1)
        astream = container.add_stream("aac", rate=int(rate))
        astream.layout = "mono"
    for i in range(int(round(seconds * fps))):
        draw = shaded_face_frame if shaded else face_frame
        frame = av.VideoFrame.from_ndarray(draw(width, height, float(i / fps), smile=smile), format="rgb24")
        frame.pts = i
        frame.time_base = 1 / Fraction(fps)
        for packet in vstream.encode(frame):
            container.mux(packet)
    for packet in vstream.encode():
        container.mux(packet)
    if astream is not None:
        chunk = 1024
        for start in range(0, len(wave), chunk):
            block = wave[start:start + chunk]
            aframe = av.AudioFrame.from_ndarray(block[np.newaxis, :], format="fltp", layout="mono")
            aframe.sample_rate = int(rate)
            aframe.pts = start
            aframe.time_base = Fraction(1, int(rate))
            for packet in astream.encode(aframe):
                container.mux(packet)
        for packet in astream.encode():
            container.mux(packet)
    container.close()
    return path


def corrupt(path: Path, *, keep: int = 200) -> Path:
    """Damage a media file the way interrupted downloads do: keep only its first ``keep`` bytes."""
    path = Path(path)
    data = path.read_bytes()[:keep]
    path.write_bytes(data)
    return path
