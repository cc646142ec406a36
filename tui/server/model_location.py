"""Where a profile's model is on disk, and whether that folder can be served.

The server is given either a folder or a hub id. For a hub id the weights may
already sit in a cache, and operators need to know which folder that is (to
check it, to serve it by path, to see why it is being downloaded again).

ModelScope, as read in modelscope's own sources (`hub/utils/utils.py`,
`utils/file_utils.py`, `hub/snapshot_download.py`):

- the cache root is `$MODELSCOPE_CACHE`, else `~/.cache/modelscope/hub`. Versions
  before 1.x (`get_cache_dir`) put a model straight under it as `<root>/<org>/<name>`;
  newer ones (`get_model_cache_root`) put it under `<root>/models/<org>/<name>`. So
  without the variable the folder is `~/.cache/modelscope/hub/models/<org>/<name>`
  (newer) or `~/.cache/modelscope/hub/<org>/<name>` (older), and with it
  `$MODELSCOPE_CACHE/models/…` or `$MODELSCOPE_CACHE/…`;
- the folder name has every `.` of the model id replaced by `___`
  (`get_model_masked_directory`: `model_id.replace('.', '___')`), so
  `Qwen/Qwen2.5-Coder-0.5B-Instruct` lands in `Qwen/Qwen2___5-Coder-0___5B-Instruct`;
  newer versions also make a symlink with the dotted name pointing at it.

Operators also set `MODELSCOPE_CACHE` to the parent folder (`~/.cache/modelscope`,
as our shipped Ascend profile does), and then copies sit under `<root>/hub/models`
or `<root>/hub`. All these places are looked at, the escaped name before the
dotted one, and the answer says which layout held the model.

Hugging Face uses `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
`~/.cache/huggingface/hub`, with `models--<org>--<name>/snapshots/<commit>`; a
branch or tag revision is resolved through `refs/<revision>`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tui.profile import ModelSpec, expand_value

INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_NOT_WEIGHTS = frozenset({"training_args.bin", "optimizer.bin", "scheduler.bin", "rng_state.bin"})
_SHOWN = 3


@dataclass(frozen=True)
class ModelLocation:
    """The folder the model was found in (None: not found), how it was found, and why not.

    `looked_in` lists every place tried, in order, for the operator to check by hand.
    """

    path: Path | None
    how: str
    problem: str | None
    looked_in: tuple[Path, ...] = ()


def locate_model(model: ModelSpec, env: Mapping[str, str]) -> ModelLocation:
    """Find `model` on this host, with variables and `~` taken from `env` (the server's environment).

    A `path` in the profile always wins (the id then only names the model), as it
    does for the launch; a `local` source without a path uses the id as the path.
    """
    if model.path:
        return _local(model.path, env)
    if model.source == "local":
        return _local(model.id, env)
    if model.source == "huggingface":
        return _huggingface(model, env)
    return _modelscope(model, env)


def modelscope_folder_name(model_id: str) -> str:
    """`Qwen/Qwen2.5-0.5B` → `Qwen/Qwen2___5-0___5B`: the folder name ModelScope downloads into."""
    return model_id.replace(".", "___")


def modelscope_cache_root(env: Mapping[str, str]) -> Path:
    """`$MODELSCOPE_CACHE`, else `~/.cache/modelscope`: the folder the layouts below hang from."""
    raw = env.get("MODELSCOPE_CACHE")
    return Path(expand_value(raw, env)) if raw else _home(env) / ".cache" / "modelscope"


def modelscope_candidates(model_id: str, env: Mapping[str, str]) -> list[tuple[Path, str]]:
    """Every folder where ModelScope may have put `model_id`, each with the name of its layout."""
    root = modelscope_cache_root(env)
    layouts = (
        ("hub/models", "newer layout <cache>/hub/models/<org>/<name>"),
        ("models", "newer layout under MODELSCOPE_CACHE, models/<org>/<name>"),
        ("hub", "older layout <cache>/hub/<org>/<name>"),
        ("", "older layout under MODELSCOPE_CACHE, <org>/<name>"),
    )
    names = [modelscope_folder_name(model_id)]
    if model_id not in names:
        names.append(model_id)
    candidates: list[tuple[Path, str]] = []
    for sub, layout in layouts:
        base = root / sub if sub else root
        for name in names:
            escaped = "" if name == model_id else ", '.' written as '___'"
            candidates.append((base / name, layout + escaped))
    return candidates


def huggingface_cache_root(env: Mapping[str, str]) -> Path:
    """`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub` (the legacy name last)."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(name):
            return Path(expand_value(env[name], env))
    if env.get("HF_HOME"):
        return Path(expand_value(env["HF_HOME"], env)) / "hub"
    return _home(env) / ".cache" / "huggingface" / "hub"


def check_model_folder(path: Path, *, need_weights: bool = True) -> list[str]:
    """What keeps `path` from being served: sentences, empty when it looks servable.

    It must hold a config.json that is a JSON object and, unless `need_weights` is
    False (`--load-format dummy` reads no checkpoint), weights: `*.safetensors` or
    `*.bin` files, or an index whose shards all exist. A half-finished download
    (modelscope #1271: a folder with no weights) is the usual reason this fails.
    Zero-byte weight files count as missing: they are what an interrupted copy leaves.
    """
    if path.is_file():
        return [] if path.suffix == ".gguf" else [f"{path} is a file, not a model folder"]
    if not path.is_dir():
        return [f"{path} does not exist"]
    problems = _config_problems(path)
    if need_weights:
        problems += _weights_problems(path)
    return problems


def _local(raw: str, env: Mapping[str, str]) -> ModelLocation:
    path = Path(expand_value(raw, env))
    if "$" in str(path):
        return ModelLocation(None, "local path", f"the model path {raw} names a variable that is not set ({path})")
    if path.exists():
        return ModelLocation(path, f"local path {path}", None, (path,))
    return ModelLocation(None, "local path", f"the model folder {path} does not exist", (path,))


def _modelscope(model: ModelSpec, env: Mapping[str, str]) -> ModelLocation:
    candidates = modelscope_candidates(model.id, env)
    looked = tuple(path for path, _ in candidates)
    found = [(path, layout) for path, layout in candidates if path.is_dir()]
    if not found:
        root = modelscope_cache_root(env)
        return ModelLocation(
            None,
            "ModelScope cache",
            f"{model.id} is not in the ModelScope cache under {root} (looked for "
            f"{modelscope_folder_name(model.id)} in hub/models, models, hub and the root); vLLM will download "
            f"it at start, or fetch it first with `modelscope download --model {model.id}`",
            looked,
        )
    # Prefer a complete copy when more than one layout holds the model.
    path, layout = next(((p, how) for p, how in found if not check_model_folder(p)), found[0])
    return ModelLocation(path, f"ModelScope cache ({layout}): {path}", None, looked)


def _huggingface(model: ModelSpec, env: Mapping[str, str]) -> ModelLocation:
    root = huggingface_cache_root(env)
    repo = root / ("models--" + model.id.replace("/", "--"))
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return ModelLocation(
            None,
            "Hugging Face cache",
            f"{model.id} is not in the Hugging Face cache ({repo} does not exist); vLLM will download it at "
            f"start unless HF_HUB_OFFLINE is set, or fetch it first with `hf download {model.id}`",
            (repo,),
        )
    revision = model.revision or "main"
    commit = _read_ref(repo / "refs" / revision) or revision
    chosen = snapshots / commit
    if not chosen.is_dir():
        if model.revision:
            return ModelLocation(
                None,
                "Hugging Face cache",
                f"revision {model.revision} of {model.id} is not in the cache ({chosen} does not exist)",
                (chosen,),
            )
        newest = _newest_folder(snapshots)
        if newest is None:
            return ModelLocation(None, "Hugging Face cache", f"{snapshots} holds no snapshot of {model.id}", (repo,))
        return ModelLocation(newest, f"Hugging Face cache, newest snapshot: {newest}", None, (repo,))
    return ModelLocation(chosen, f"Hugging Face cache, revision {revision}: {chosen}", None, (repo,))


def _read_ref(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def _newest_folder(folder: Path) -> Path | None:
    try:
        entries = [entry for entry in folder.iterdir() if entry.is_dir()]
    except OSError:
        return None
    return max(entries, key=lambda entry: entry.stat().st_mtime, default=None)


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def _config_problems(path: Path) -> list[str]:
    config = path / "config.json"
    if not config.is_file():
        return [f"{path} has no config.json; it is not a complete Hugging Face-style model folder"]
    data, problem = _read_json(config)
    if problem is not None:
        return [problem + "; the download may be cut short or the file edited by hand"]
    if not isinstance(data, dict):
        return [f"{config} is JSON but not an object; it is not a model configuration"]
    return []


def _weights_problems(path: Path) -> list[str]:
    for index_name in INDEX_FILES:
        index = path / index_name
        if index.is_file():
            return _index_problems(path, index)
    weights = sorted(
        entry
        for pattern in ("*.safetensors", "*.bin")
        for entry in path.glob(pattern)
        if entry.name not in _NOT_WEIGHTS
    )
    if not weights:
        return [
            f"{path} holds no weights (no *.safetensors, *.bin or {INDEX_FILES[0]}); the download may be "
            "incomplete; fetch it again, or use --load-format dummy to test without weights"
        ]
    empty = [entry.name for entry in weights if _size(entry) in (None, 0)]
    if empty:
        return [f"{path} has empty or dangling weight files: {_some(empty)}; fetch them again"]
    return []


def _read_json(path: Path) -> tuple[object, str | None]:
    """The JSON in `path`, or None and the sentence saying why it cannot be had."""
    try:
        return json.loads(path.read_text(encoding="utf-8")), None
    except OSError as exc:
        return None, f"{path} cannot be read ({exc.strerror})"
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"{path} is not valid JSON ({exc})"


def _index_problems(path: Path, index: Path) -> list[str]:
    data, problem = _read_json(index)
    if problem is not None:
        return [problem]
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        return [f"{index} has no weight_map; it does not say where the weights are"]
    shards = sorted({str(name) for name in weight_map.values()})
    missing = [name for name in shards if _size(path / name) in (None, 0)]
    if missing:
        return [
            f"{index.name} lists {len(shards)} shard(s) and {len(missing)} are missing or empty: "
            f"{_some(missing)}; the download is incomplete"
        ]
    return []


def _size(path: Path) -> int | None:
    """The size of a file, following links; None when it is not a file (missing, dangling link)."""
    try:
        return path.stat().st_size if path.is_file() else None
    except OSError:
        return None


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
