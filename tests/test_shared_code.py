"""The pieces every state-based script carries must stay the same, so that a comparison between
RAT and a baseline measures the policy step and nothing else. Each script is self-contained on
purpose (a reader sees everything in one file); this test is what keeps the copies together."""

import inspect

import pytest
import torch

import ppo_baseline
import rat_continuous_action
import trpo_baseline

SCRIPTS = [rat_continuous_action, ppo_baseline, trpo_baseline]
SHARED = ["setup_video_rendering", "make_env", "check_env_id", "make_envs", "layer_init", "mlp", "ObsNormalizer", "Actor", "Agent",
          "gaussian_log_prob", "gaussian_kl", "compute_gae", "evaluate"]


@pytest.mark.parametrize("name", SHARED)
def test_shared_pieces_are_identical_in_every_state_script(name):
    sources = {script.__name__: inspect.getsource(getattr(script, name)) for script in SCRIPTS}
    assert len(set(sources.values())) == 1, f"{name} differs between {', '.join(sources)}"


def test_same_seed_builds_the_same_agent_in_every_script():
    agents = []
    for script in SCRIPTS:
        torch.manual_seed(0)
        agents.append(script.Agent(11, 3).state_dict())
    for other in agents[1:]:
        assert all(torch.equal(agents[0][key], other[key]) for key in agents[0])
