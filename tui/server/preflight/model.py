"""Does the model resolve to a servable folder, and will vLLM ask the right hub for it.

ModelScope against Hugging Face is a classic: vLLM reads `VLLM_USE_MODELSCOPE`
only as the words true/false (`"1"` means false), images set it for you (and so
send a Hugging Face id to ModelScope), and a ModelScope id without it goes to the
Hugging Face Hub. The checks below therefore look at what the profile itself
sets, not only at what the environment happens to inherit.

Blocking (stat, reading config.json and the weight index): run in a thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tui.profile import Profile
from tui.server.model_location import check_model_folder, locate_model
from tui.server.preflight.check import Check, failed, passed, warned
from tui.server.preflight.plan_args import option_value

KEY = "model"
SOURCE_KEY = "model_source"
_OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def weights_needed(profile: Profile, argv: Sequence[str]) -> str | None:
    """None when the launch reads a checkpoint; else why it does not (dummy weights, simulated server)."""
    if option_value(argv, "--load-format") == "dummy":
        return "--load-format dummy reads no checkpoint"
    if profile.runtime == "simulated":
        return "the simulated server reads only config.json"
    return None


def check_model(profile: Profile, env: Mapping[str, str], argv: Sequence[str]) -> Check:
    """Pass when the model is found and its folder holds config.json and (when read) weights."""
    title = "Model files"
    location = locate_model(profile.model, env)
    if location.path is None:
        problem = location.problem or f"{profile.model.id} was not found"
        hub = profile.model.source != "local" and not profile.model.path
        offline = [name for name in _OFFLINE if _truthy(env.get(name))]
        if hub and profile.model.source == "huggingface" and offline:
            return failed(
                KEY, title, f"{problem}; and {offline[0]} is set, so vLLM cannot download it",
                f"Download {profile.model.id} first (`hf download {profile.model.id}`), or unset {offline[0]}.",
            )
        if hub:
            return warned(
                KEY, title, problem,
                "Let vLLM download it at start (slow for big models, and once per TP rank on some versions), "
                "or download it first and set model.path to the folder.",
            )
        return failed(KEY, title, problem, "Set model.path in the profile to the folder that holds config.json.")
    skip_weights = weights_needed(profile, argv)
    problems = check_model_folder(location.path, need_weights=skip_weights is None)
    if problems:
        return failed(
            KEY, title, f"{location.how}: " + "; ".join(problems),
            "Download the model again (or finish the download), or point model.path at a complete copy.",
        )
    what = "config.json and weights present" if skip_weights is None else f"config.json present; {skip_weights}"
    return passed(KEY, title, f"{location.how}: {what}")


def check_model_source(profile: Profile, profile_env: Mapping[str, str], env: Mapping[str, str]) -> Check:
    """Will vLLM fetch the model from the hub the profile names?

    `profile_env` is what the profile itself sets (the plan's variables),
    `env` what the server will get.
    """
    title = "Model hub"
    model = profile.model
    if model.source == "local" or model.path:
        return passed(SOURCE_KEY, title, "the server is given a local folder, so no hub is asked")
    own = profile_env.get("VLLM_USE_MODELSCOPE")
    final = env.get("VLLM_USE_MODELSCOPE")
    uses_modelscope = final is not None and final.strip().lower() == "true"
    if model.source == "modelscope":
        if own is not None and own.strip().lower() != "true":
            return failed(
                SOURCE_KEY, title,
                f"the profile sets VLLM_USE_MODELSCOPE={own!r}, which vLLM reads as false (only the word true "
                f"counts), so it will look for {model.id} on the Hugging Face Hub",
                "Set VLLM_USE_MODELSCOPE=True in [environment.vars].",
            )
        if own is None:
            inherited = f"it is inherited as {final!r}" if final is not None else "it is not set at all"
            consequence = "" if uses_modelscope else f", so vLLM will look for {model.id} on the Hugging Face Hub"
            return warned(
                SOURCE_KEY, title,
                f"the model comes from ModelScope but the profile does not set VLLM_USE_MODELSCOPE "
                f"({inherited}){consequence}",
                "Set VLLM_USE_MODELSCOPE=True in [environment.vars], so the launch does not depend on the shell "
                "or image it starts from.",
            )
        return passed(SOURCE_KEY, title, "ModelScope, with VLLM_USE_MODELSCOPE=True set by the profile")
    if uses_modelscope:
        origin = "the profile sets" if own is not None else "the environment passes on"
        return warned(
            SOURCE_KEY, title,
            f"the model comes from Hugging Face but {origin} VLLM_USE_MODELSCOPE={final}, so vLLM will look "
            f"for {model.id} on ModelScope",
            "Set VLLM_USE_MODELSCOPE=False in [environment.vars] (images such as vllm-ascend's set it to True).",
        )
    return passed(SOURCE_KEY, title, "Hugging Face, and VLLM_USE_MODELSCOPE does not redirect it")


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on")
