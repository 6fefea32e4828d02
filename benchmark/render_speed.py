"""Frames per second of headless MuJoCo rendering, with and without multisampling and shadows.

The figure behind the scripts' `--fast-render` flag (on by default): CPU rendering (EGL on Mesa)
spends most of its time on MuJoCo's 4× multisampling and shadow maps. Each measurement runs in
a fresh process, since MuJoCo reads these settings when the first render creates its GL context.

    python benchmark/render_speed.py --env-id Hopper-v5 --frames 100
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass

import tyro

os.environ.setdefault("MUJOCO_GL", "egl")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Args:
    env_id: str = "Hopper-v5"
    """a Gymnasium MuJoCo or DeepMind Control (`dm_control/...`) task, rendered at its own rgb_array size"""
    frames: int = 100
    """frames rendered per measurement, after one warm-up frame"""


def frames_per_second(env_id: str, frames: int, fast_render: bool) -> float:
    """Render `frames` frames of a randomly acting policy with the training scripts' own video set-up."""
    sys.path.insert(0, REPO)
    import gymnasium as gym
    import rat_continuous_action as rat

    rat.check_env_id(env_id)
    env = gym.make(env_id, render_mode="rgb_array")
    rat.setup_video_rendering(env, fast_render)
    env.reset(seed=0)
    env.render()
    start = time.perf_counter()
    for _ in range(frames):
        env.step(env.action_space.sample())
        env.render()
    return frames / (time.perf_counter() - start)


def main(args: Args) -> None:
    results = {}
    for fast in (False, True):
        code = (f"import sys; sys.path.insert(0, {os.path.join(REPO, 'benchmark')!r}); from render_speed import frames_per_second; "
                f"print(frames_per_second({args.env_id!r}, {args.frames}, {fast}))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
        if out.returncode != 0:
            sys.exit(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"error: rendering {args.env_id} failed.")
        results[fast] = float(out.stdout.strip().splitlines()[-1])
    print(f"{args.env_id}: {results[False]:.1f} frames/s with multisampling and shadows, "
          f"{results[True]:.1f} without (--fast-render), ×{results[True] / results[False]:.1f}")


if __name__ == "__main__":
    main(tyro.cli(Args))
