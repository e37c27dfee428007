"""The four corpora, their labels, speakers and class masks, and the Rust front end's features.

Features come only from `target/release/sentio features` (docs/contract.md): columns 105..185 are
Whisper's log10 mel, column 104 the frame energy in dBFS.
"""
import csv
import os
from dataclasses import dataclass

import numpy as np

CLASSES = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
DATA = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared", "data"))
CORPORA = ["ravdess", "tess", "ased", "urdu"]
WHISPER = slice(105, 185)
ENERGY = 104
RAVDESS_EMOTION = {f"{i + 1:02d}": c for i, c in enumerate(CLASSES)}
# A clip's windows, as `sentio eval` and the plugin cut them: 250 frames (or the whole clip when
# shorter, at least MIN), every 50, kept when at least 20 % of their frames are voiced.
WIN, HOP, MIN, MIN_VOICED = 250, 50, 50, 0.2


@dataclass
class Clip:
    path: str
    corpus: str
    speaker: str  # corpus-qualified
    label: int
    stem: str


def clips() -> list[Clip]:
    out = []
    rav = os.path.join(DATA, "ravdess")
    for actor in sorted(os.listdir(rav)):
        for f in sorted(os.listdir(os.path.join(rav, actor))):
            if f.endswith(".flac"):
                parts = f[:-5].split("-")
                out.append(Clip(os.path.join(rav, actor, f), "ravdess", f"ravdess:{int(parts[6]):02d}",
                                CLASSES.index(RAVDESS_EMOTION[parts[2]]), f[:-5]))
    for corpus in CORPORA[1:]:
        root = os.path.join(DATA, corpus)
        with open(os.path.join(root, "labels.csv")) as fh:
            for row in csv.DictReader(fh):
                p = os.path.join(root, row["path"])
                out.append(Clip(p, corpus, f"{corpus}:{row['speaker']}", CLASSES.index(row["label"]),
                                os.path.splitext(os.path.basename(p))[0]))
    return out


def is_man(c: Clip) -> bool:
    """The speaker's sex, by each corpus's own convention (../shared/data/README.md): RAVDESS's
    odd actors are men; TESS is two women; ASED's file names carry it (01 f, 02 m; 5 of its 2,474
    files carry the other code than the rest of their speaker's, and the file's is used); URDU's
    speaker codes start SM or SF."""
    if c.corpus == "ravdess":
        return int(c.speaker.split(":")[1]) % 2 == 1
    if c.corpus == "tess":
        return False
    if c.corpus == "ased":
        return c.stem.split("-")[3] == "02"
    return c.speaker.split(":")[1].startswith("SM")


def corpus_classes(cl: list[Clip]) -> dict[str, list[int]]:
    present: dict[str, set] = {}
    for c in cl:
        present.setdefault(c.corpus, set()).add(c.label)
    return {k: sorted(v) for k, v in present.items()}


def speaker_z(x: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Each speaker's rows z-normalised with that speaker's own statistics (mean, std over their
    rows): what the runtime's embedding normaliser converges to."""
    out = np.empty_like(x)
    for s in np.unique(speakers):
        i = speakers == s
        out[i] = (x[i] - x[i].mean(0)) / (x[i].std(0) + 1e-5)
    return out


def voiced(energy: np.ndarray) -> np.ndarray:
    """Energy VAD: above -60 dBFS and 10 dB over the clip's 10th-percentile floor."""
    if len(energy) == 0:
        return np.zeros(0, bool)
    return (energy > -60.0) & (energy > np.percentile(energy, 10) + 10.0)


def load(feat_dir: str, clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """(whisper log10 mel [frames, 80] float32, voiced [frames])."""
    a = np.load(os.path.join(feat_dir, clip.stem + ".npy"))
    return a[:, WHISPER].astype(np.float32), voiced(a[:, ENERGY])


def window_starts(n: int, vo: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of the windows of a clip of `n` frames with voiced mask `vo`."""
    win = min(WIN, n)
    out, start = [], 0
    while True:
        end = start + win
        if vo[start:end].mean() >= MIN_VOICED:
            out.append((start, end))
        if end >= n:
            break
        start = min(start + HOP, n - win)
    return out or [(0, win)]
