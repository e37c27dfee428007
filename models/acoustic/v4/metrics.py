"""Scores shared by the torch pipeline (calibrate.py) and the torch-free probes (floor_probe.py)."""
import numpy as np


def ece(p, y, bins=15):
    """Expected calibration error of the top probability over `bins` equal-width bins."""
    conf, pred = p.max(1), p.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    e = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            e += m.mean() * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return float(e)
