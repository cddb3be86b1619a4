"""ORL (AT&T "The Database of Faces"): 400 grey images of 40 people, 112 × 92 pixels.

Read from a local ``faces.npz`` (keys ``X``: 400 × 10304 uint8, row-major 112 × 92 images,
``y``: subject ids 0..39); never downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["load_orl_faces", "ORL_SHAPE"]

#: (height, width) of an ORL image.
ORL_SHAPE = (112, 92)


def _candidates(path):
    if path is not None:
        p = Path(path)
        return [p / "faces.npz", p / "orl-faces" / "faces.npz"] if p.is_dir() else [p]
    out = []
    env = os.environ.get("NMFDNN_DATA")
    if env:
        out += [Path(env) / "orl-faces" / "faces.npz", Path(env) / "faces.npz"]
    return out


def _downscale(X, factor):
    h, w = ORL_SHAPE
    n = X.shape[0]
    hh, ww = h // factor, w // factor
    imgs = X.reshape(n, h, w)[:, : hh * factor, : ww * factor]
    return imgs.reshape(n, hh, factor, ww, factor).mean(axis=(2, 4)).reshape(n, hh * ww)


def load_orl_faces(path=None, *, scale=True, downscale=1, dtype="float64"):
    """Load the ORL faces as a host NumPy array, one image per row.

    Parameters
    ----------
    path : str or Path, optional
        ``faces.npz`` itself or a folder holding it (or ``orl-faces/faces.npz``). Default:
        ``$NMFDNN_DATA/orl-faces/faces.npz``.
    scale : bool, default=True
        Divide the pixels by 255 (values in [0, 1]).
    downscale : int, default=1
        Average ``downscale × downscale`` pixel blocks (image shape ``(112 // f, 92 // f)``).
    dtype : str, default="float64"

    Returns
    -------
    X : ndarray of shape (400, h·w)
        Row-major images.
    y : ndarray of shape (400,)
        Subject ids 0..39.
    shape : (int, int)
        ``(h, w)`` of the returned images.

    Raises
    ------
    FileNotFoundError
        Naming every place that was searched.
    ValueError
        If the file lacks ``X`` or ``y`` or holds images of another size.
    """
    tried = _candidates(path)
    for p in tried:
        if p.is_file():
            with np.load(p, allow_pickle=False) as data:
                missing = {"X", "y"} - set(data.files)
                if missing:
                    raise ValueError(f"{p} is not an ORL faces.npz: no {sorted(missing)} entry "
                                     f"(it holds {sorted(data.files)}; expected X and y)")
                X, y = data["X"], data["y"]
            pixels = ORL_SHAPE[0] * ORL_SHAPE[1]
            if X.ndim != 2 or X.shape[1] != pixels or y.shape != (X.shape[0],):
                raise ValueError(
                    f"{p} is not an ORL faces.npz: X must have shape (n_images, {pixels}) "
                    f"(row-major {ORL_SHAPE[0]} × {ORL_SHAPE[1]} images) and y one label per "
                    f"image, got X {X.shape} and y {y.shape}"
                )
            break
    else:
        where = ", ".join(str(p) for p in tried) or "(nowhere: no path given and NMFDNN_DATA unset)"
        raise FileNotFoundError(
            f"ORL faces not found; looked at {where}. Pass path= (the faces.npz file or its "
            "folder) or set NMFDNN_DATA to the data folder holding orl-faces/faces.npz"
        )
    X = X.astype("float64")
    if scale:
        X = X / 255.0
    shape = ORL_SHAPE
    f = int(downscale)
    if f > 1:
        X = _downscale(X, f)
        shape = (ORL_SHAPE[0] // f, ORL_SHAPE[1] // f)
    return X.astype(dtype), y.astype("int64"), shape
