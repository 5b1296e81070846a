"""Data sets for the main job: embedded in installed packages, or a local .npz file.

No network: digits ships with scikit-learn and MNIST-1D is generated
procedurally by the ``mnist1d`` package.
"""

import dataclasses
import importlib.util
import pathlib
import zipfile

import numpy as np

BUILTIN = ("digits", "mnist1d")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DataError(ValueError):
  """A data set that cannot be loaded: the message names the culprit."""


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A classification data set in memory.

  Attributes:
    name: ``digits``, ``mnist1d`` or the path of the ``.npz`` file.
    x_train: float32 inputs, shape ``(n_train, *sample_shape)``.
    y_train: int32 labels in ``[0, num_classes)``.
    x_test: float32 inputs, shape ``(n_test, *sample_shape)``.
    y_test: int32 labels.
    num_classes: number of classes.
  """

  name: str
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray
  num_classes: int

  @property
  def sample_shape(self) -> tuple[int, ...]:
    return tuple(self.x_train.shape[1:])

  @property
  def default_model(self) -> str:
    """``cnn`` for signals and images (2 or 3 axes), except digits (an MLP is fast and
    accurate there); ``mlp`` for anything else, which it flattens."""
    spatial = len(self.sample_shape) in (2, 3)
    return "cnn" if spatial and self.name != "digits" else "mlp"


def load(name: str, *, seed: int = 0) -> Dataset:
  """Loads ``digits``, ``mnist1d`` or an ``.npz`` file holding x_train, y_train, x_test, y_test.

  Args:
    name: a built-in name or a path to an ``.npz`` file.
    seed: the seed of the digits train/test split (MNIST-1D has its own fixed split).

  Returns:
    The :class:`Dataset`. Images come as ``(n, height, width, channels)``, signals
    as ``(n, length, channels)``; inputs are float32, labels int32.

  Raises:
    DataError: unknown name, missing or malformed file.
  """
  check_name(name)
  if name == "digits":
    return _digits(seed)
  if name == "mnist1d":
    return _mnist1d()
  return _npz(pathlib.Path(name))


def check_name(name: str) -> None:
  """Raises DataError unless ``name`` is a built-in data set or an existing file (not loaded)."""
  path = pathlib.Path(name)
  if name in BUILTIN:
    return
  if not name.strip():
    raise DataError(f"no data set named: use {', '.join(BUILTIN)} or the path of an .npz file")
  if path.is_dir():
    raise DataError(f"{name!r} is a directory: give the path of an .npz file")
  if not path.is_file():
    if name.endswith(".npz"):
      raise DataError(f"data file {name!r} does not exist")
    raise DataError(
      f"unknown data set {name!r}: use {', '.join(BUILTIN)} or the path of an .npz file"
    )


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
  """scikit-learn's digits, ``(images (1797, 64), labels)``, from the file it ships.

  The file is the one ``sklearn.datasets.load_digits`` reads; reading it directly skips
  importing scikit-learn and the scipy.stats it pulls in, a third of the command's start-up.
  Where the file is not at its usual place, ``load_digits`` reads it.
  """
  spec = importlib.util.find_spec("sklearn")
  origin = pathlib.Path(spec.origin).parent if spec is not None and spec.origin else None
  path = None if origin is None else origin / "datasets" / "data" / "digits.csv.gz"
  if path is None or not path.is_file():
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)
  table = np.loadtxt(path, delimiter=",")
  return table[:, :-1], table[:, -1].astype(np.int64)


def _digits(seed: int) -> Dataset:
  images, labels = digits_arrays()
  order = np.random.default_rng(seed).permutation(len(labels))
  images = (images[order] / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
  labels = labels[order].astype(np.int32)
  split = int(0.8 * len(labels))
  return Dataset("digits", images[:split], labels[:split], images[split:], labels[split:], 10)


def _mnist1d() -> Dataset:
  # Imported here, not at the top: half a second that only this data set needs.
  from mnist1d.data import get_dataset_args, make_dataset

  # make_dataset seeds NumPy's global generator; keep the caller's stream intact.
  saved = np.random.get_state()  # noqa: NPY002 (the legacy global state is what it touches)
  try:
    data = make_dataset(get_dataset_args())
  finally:
    np.random.set_state(saved)  # noqa: NPY002
  as_signal = lambda x: np.asarray(x, np.float32)[..., None]
  return Dataset(
    "mnist1d",
    as_signal(data["x"]),
    np.asarray(data["y"], np.int32),
    as_signal(data["x_test"]),
    np.asarray(data["y_test"], np.int32),
    10,
  )


def _npz(path: pathlib.Path) -> Dataset:
  try:
    loaded = np.load(path, allow_pickle=False)
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
    raise DataError(f"data file {str(path)!r} is not a readable .npz archive") from error
  if not isinstance(loaded, np.lib.npyio.NpzFile):  # a plain .npy array, whatever its name
    raise DataError(
      f"data file {str(path)!r} holds one array, not an .npz archive of {', '.join(NPZ_KEYS)}"
    )
  try:
    with loaded as archive:
      missing = [key for key in NPZ_KEYS if key not in archive.files]
      if missing:
        raise DataError(f"data file {str(path)!r} lacks {', '.join(missing)}")
      arrays = {key: archive[key] for key in NPZ_KEYS}
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
    if isinstance(error, DataError):
      raise
    raise DataError(f"data file {str(path)!r} is not a readable .npz archive") from error
  x_train, x_test = (_inputs(path, key, arrays[key]) for key in ("x_train", "x_test"))
  if x_train.ndim < 2 or x_train.shape[1:] != x_test.shape[1:] or 0 in x_train.shape[1:]:
    raise DataError(
      f"data file {str(path)!r}: x_train and x_test must be (n, ...) arrays of one non-empty "
      f"sample shape, got {x_train.shape} and {x_test.shape}"
    )
  for key, x in (("y_train", x_train), ("y_test", x_test)):
    _check_labels(path, key, arrays[key], len(x))
  y_train, y_test = arrays["y_train"], arrays["y_test"]
  num_classes = int(max(y_train.max(), y_test.max())) + 1
  present = len(np.union1d(y_train, y_test))
  if num_classes > 2 * present:
    raise DataError(
      f"data file {str(path)!r}: labels must be class indices 0..K-1, but only {present} "
      f"distinct labels reach up to {num_classes - 1}: relabel them"
    )
  if x_train.ndim == 3:  # (n, h, w) grey images: one channel
    x_train, x_test = x_train[..., None], x_test[..., None]
  return Dataset(
    str(path),
    x_train,
    y_train.astype(np.int32),
    x_test,
    y_test.astype(np.int32),
    num_classes,
  )


def _inputs(path: pathlib.Path, key: str, x: np.ndarray) -> np.ndarray:
  """``x`` as float32, or a DataError naming the array: real numbers, finite in float32."""
  real = np.issubdtype(x.dtype, np.number) and not np.issubdtype(x.dtype, np.complexfloating)
  if not (real or x.dtype == np.bool_):
    raise DataError(f"data file {str(path)!r}: {key} must hold real numbers, got dtype {x.dtype}")
  with np.errstate(over="ignore", invalid="ignore"):
    x = np.asarray(x, np.float32)
  if not np.all(np.isfinite(x)):
    raise DataError(f"data file {str(path)!r}: {key} holds NaN, infinite or beyond-float32 values")
  return x


def _check_labels(path: pathlib.Path, key: str, y: np.ndarray, samples: int) -> None:
  """One non-negative integer label per sample, and at least one sample."""
  if y.ndim != 1:
    raise DataError(
      f"data file {str(path)!r}: {key} must be a 1-d array of labels, got shape {y.shape}"
    )
  if samples == 0 or len(y) == 0:
    raise DataError(
      f"data file {str(path)!r}: {key} is empty: the train and test sets need samples"
    )
  if y.ndim != 1 or len(y) != samples or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
    raise DataError(
      f"data file {str(path)!r}: {key} must hold one non-negative integer label per sample"
    )
