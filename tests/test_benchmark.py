"""The benchmark tooling: the grid runner's resumability, the report's numbers, the transform micro-benchmark.

No training run here: the runner's job is a tiny fake script, the report reads event files written
by hand, and transform_cost.py runs its --quick configuration.
"""

import csv
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmark"
sys.path[:0] = [str(BENCHMARK), str(BENCHMARK.parent)]

import report  # noqa: E402
import run_grid  # noqa: E402
import windows  # noqa: E402

FAKE_SCRIPT = """
import os, sys
seed = sys.argv[sys.argv.index("--seed") + 1]
with open("calls.txt", "a") as f:  # one line per time the runner started this job
    f.write(" ".join(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_FAIL_SEED") == seed:
    print("failing on purpose")
    sys.exit(3)
print("threads", os.environ["OMP_NUM_THREADS"])
"""


def write_grid(tmp_path: Path, script: Path, seeds=(1, 2)) -> Path:
    grid = tmp_path / "grid.py"
    grid.write_text(textwrap.dedent(f"""
        METHODS = {{"rat": [{str(script)!r}], "ppo": [{str(script)!r}, "--no-line-search"]}}
        ENVS = ["Hopper-v5"]
        SEEDS = {list(seeds)!r}
        TOTAL_TIMESTEPS = 1_000_000
        COMMON_FLAGS = ["--save-model"]
        BAR = {{"Hopper-v5": 3206}}
    """))
    return grid


def test_filter_and_budget_override_choose_the_jobs(tmp_path):
    grid = run_grid.load_grid(str(write_grid(tmp_path, tmp_path / "fake.py")))
    names = [job.name for job in run_grid.make_jobs(grid, total_timesteps=4096, patterns=("rat__",))]
    assert names == ["rat__Hopper-v5__s1__4096", "rat__Hopper-v5__s2__4096"]
    ppo = run_grid.make_jobs(grid, patterns=("ppo*s2",))
    assert len(ppo) == 1 and ppo[0].command[2:] == ("--no-line-search", "--exp-name", "ppo", "--env-id", "Hopper-v5", "--seed", "2",
                                                    "--total-timesteps", "1000000", "--save-model")


@pytest.mark.parametrize("grid_file", sorted((BENCHMARK / "grids").glob("*.py")), ids=lambda path: path.stem)
def test_every_committed_grid_runs_scripts_that_accept_its_flags(grid_file):
    import importlib

    import tyro

    for job in run_grid.make_jobs(run_grid.load_grid(str(grid_file))):
        script = Path(job.command[1])
        assert script.is_file(), f"{grid_file.name}: {script} does not exist"
        module = importlib.import_module(script.stem)
        args = tyro.cli(module.Args, args=list(job.command[2:]))  # a misspelt flag stops tyro with SystemExit
        module.check_args(args)
        assert (args.env_id, args.seed, args.total_timesteps) == (job.env_id, job.seed, job.total_timesteps)


def test_runner_skips_finished_jobs_and_reruns_failed_ones(tmp_path, monkeypatch):
    script = tmp_path / "fake.py"
    script.write_text(FAKE_SCRIPT)
    work = tmp_path / "work"
    args = run_grid.Args(grid=str(write_grid(tmp_path, script)), work_dir=str(work), filter=("rat",))
    finished, failed = work / "rat__Hopper-v5__s1__1M", work / "rat__Hopper-v5__s2__1M"

    monkeypatch.setenv("FAKE_FAIL_SEED", "2")
    with pytest.raises(SystemExit) as exit_info:
        run_grid.main(args)
    assert exit_info.value.code == 1  # a failed job fails the grid
    done = json.loads((finished / "done.json").read_text())
    assert done["returncode"] == 0 and done["command"][-1] == "--save-model"
    assert "threads 1" in (finished / "log.txt").read_text()
    assert not (failed / "done.json").exists()
    assert "failing on purpose" in (failed / "log.txt").read_text()

    monkeypatch.delenv("FAKE_FAIL_SEED")
    run_grid.main(args)
    assert len((finished / "calls.txt").read_text().splitlines()) == 1  # done: not started again
    assert (failed / "done.json").exists()
    assert "failing on purpose" in (failed / "failed-1" / "log.txt").read_text()  # the failed attempt is kept


def test_interrupted_job_with_a_checkpoint_resumes_from_it(tmp_path):
    script = tmp_path / "fake.py"
    # The first attempt leaves a checkpoint and dies; a resumed attempt finishes.
    script.write_text(FAKE_SCRIPT + textwrap.dedent("""
        if "--resume" not in sys.argv:
            os.makedirs("runs/r", exist_ok=True)
            open("runs/r/checkpoint.pt", "w").close()
            sys.exit(4)
    """))
    work = tmp_path / "work"
    args = run_grid.Args(grid=str(write_grid(tmp_path, script, seeds=(1,))), work_dir=str(work), filter=("rat",))
    with pytest.raises(SystemExit):
        run_grid.main(args)
    run_grid.main(args)
    job_dir = work / "rat__Hopper-v5__s1__1M"
    calls = (job_dir / "calls.txt").read_text().splitlines()
    assert len(calls) == 2 and calls[1].endswith("--resume runs/r/checkpoint.pt")
    assert (job_dir / "done.json").exists() and not list(job_dir.glob("failed-*"))  # one run, continued in place


def write_run(work: Path, method: str, seed: int, returns: list, eval_return=None, finished=True, env_id="Hopper-v5", lengths=None) -> None:
    """A job folder as run_grid.py leaves it, with TensorBoard events as the training scripts log them."""
    job_dir = work / f"{method}__{env_id}__s{seed}__1M"
    job_dir.mkdir(parents=True)
    (job_dir / "job.json").write_text(json.dumps(dict(method=method, env_id=env_id, seed=seed, total_timesteps=1_000_000)))
    if finished:
        (job_dir / "done.json").write_text(json.dumps(dict(returncode=0)))
    with SummaryWriter(job_dir / "runs" / f"{env_id}__{method}__{seed}__0") as writer:
        for episode, value in enumerate(returns):
            writer.add_scalar("charts/episodic_return", value, 1000 * (episode + 1))
            if lengths is not None:
                writer.add_scalar("charts/episodic_length", lengths[episode], 1000 * (episode + 1))
        writer.add_scalar("charts/SPS", 2000, 1000 * len(returns))
        if eval_return is not None:
            writer.add_scalar("eval/episodic_return", eval_return, 1000 * len(returns))


def test_report_gives_means_over_seeds_of_the_last_20_episodes(tmp_path):
    work, out = tmp_path / "work", tmp_path / "results"
    # 30 episodes base, base + 1, …: the last 20 average base + 19.5
    write_run(work, "rat", 1, [100.0 + i for i in range(30)], eval_return=1000.0)
    write_run(work, "rat", 2, [200.0 + i for i in range(30)], eval_return=2000.0)
    write_run(work, "ppo", 1, [50.0 + i for i in range(30)])
    write_run(work, "ppo", 2, [9999.0] * 30, finished=False)  # still running: in the CSV, not in the table
    write_run(work, "rat-variant", 1, [5.0] * 30)  # another grid's method in the same work folder: left out
    write_run(work, "rat", 3, [7.0] * 30)  # a seed of another grid (SEEDS = [1, 2] here): left out too
    write_run(work, "rat", 1, [7.0] * 30, env_id="Walker2d-v5")  # an env of another grid (ENVS = ["Hopper-v5"]): too
    grid = write_grid(tmp_path, tmp_path / "fake.py")
    report.main(report.Args(work_dir=str(work), out_dir=str(out), grid=str(grid), bar=True))

    rows = {(row["method"], row["seed"]): row for row in csv.DictReader(open(out / "returns.csv"))}
    assert len(rows) == 4
    assert float(rows["rat", "1"]["last_return"]) == pytest.approx(119.5)
    assert float(rows["rat", "2"]["eval_return"]) == pytest.approx(2000.0)
    assert rows["rat", "1"]["steps"] == "30000" and rows["ppo", "2"]["finished"] == "False"
    assert rows["rat", "1"]["last_episode_step"] == "30000"
    table = (out / "table.md").read_text()
    # rat: mean(119.5, 219.5) = 169.5, sample std 70.7; eval mean(1000, 2000) = 1500, std 707
    assert "| env | steps | rat | ppo | bar (RAT.md §6) |" in table
    assert "| Hopper-v5 | 1M | 170 ± 71 (2) | 69.5 (1) | ≥ 3206 |" in table  # a mean below 100 gets a decimal (Atari scores)
    assert "| Hopper-v5 | 1M | 1500 ± 707 (2) | – |" in table
    assert (out / "Hopper-v5_1M.png").stat().st_size > 10_000


def test_report_stops_with_one_sentence_on_a_grid_without_seeds(tmp_path):
    write_run(tmp_path / "work", "rat", 1, [100.0] * 20)
    grid = write_grid(tmp_path, tmp_path / "fake.py")
    grid.write_text(grid.read_text().replace("SEEDS = [1, 2]", ""))
    with pytest.raises(SystemExit, match="does not define SEEDS"):
        report.main(report.Args(work_dir=str(tmp_path / "work"), out_dir=str(tmp_path / "results"), grid=str(grid)))


def test_report_splits_the_last_episodes_into_full_ones_and_falls(tmp_path):
    work, out = tmp_path / "work", tmp_path / "results"
    # 25 episodes; of the last 20, 15 reach the env's longest length in any run (1000, the time limit) and return 3000,
    # 5 fall after 400 steps and return 1000; the 5 before them do not count
    lengths = [100.0] * 5 + [1000.0] * 15 + [400.0] * 5
    returns = [50.0] * 5 + [3000.0] * 15 + [1000.0] * 5
    write_run(work, "rat", 1, returns, lengths=lengths)
    write_run(work, "rat", 2, [500.0] * 25, lengths=[300.0] * 25)  # never reached the limit: no full episode
    write_run(work, "ppo", 1, [10.0] * 25)  # no lengths logged: the columns stay empty
    report.main(report.Args(work_dir=str(work), out_dir=str(out), grid=str(write_grid(tmp_path, tmp_path / "fake.py"))))
    rows = {row["method"] + row["seed"]: row for row in csv.DictReader(open(out / "returns.csv"))}
    assert float(rows["rat1"]["last_return"]) == pytest.approx(2500.0)
    assert float(rows["rat1"]["last_length"]) == pytest.approx(850.0)
    assert float(rows["rat1"]["last_full_share"]) == pytest.approx(0.75)
    assert float(rows["rat1"]["last_return_full"]) == pytest.approx(3000.0)
    assert float(rows["rat1"]["last_return_short"]) == pytest.approx(1000.0)
    assert float(rows["rat2"]["last_full_share"]) == 0.0 and rows["rat2"]["last_return_full"] == "nan"
    assert float(rows["rat2"]["last_return_short"]) == pytest.approx(500.0)
    assert rows["ppo1"]["last_full_share"] == "nan"


def test_report_plots_only_the_methods_asked_for(tmp_path, monkeypatch):
    work, out = tmp_path / "work", tmp_path / "results"
    write_run(work, "rat", 1, [100.0] * 20)
    write_run(work, "ppo", 1, [50.0] * 20)
    grid = str(write_grid(tmp_path, tmp_path / "fake.py"))
    plotted = []
    monkeypatch.setattr(report, "plot_env", lambda env_id, steps, by_method, methods, *rest: plotted.append(methods))
    report.main(report.Args(work_dir=str(work), out_dir=str(out), grid=grid, plot_methods=("ppo",)))
    report.main(report.Args(work_dir=str(work), out_dir=str(out), grid=grid))
    assert plotted == [["ppo"], ["rat", "ppo"]]  # the table keeps both either way
    assert "| Hopper-v5 | 1M | 100 (1) | 50.0 (1) |" in (out / "table.md").read_text()
    with pytest.raises(SystemExit, match=r"--plot-methods trpo not among the reported methods \(rat, ppo\)"):
        report.main(report.Args(work_dir=str(work), out_dir=str(out), grid=grid, plot_methods=("trpo",)))


def test_report_ranks_methods_by_their_mean_fraction_of_the_bar(tmp_path):
    work, out = tmp_path / "work", tmp_path / "results"
    write_run(work, "rat", 1, [1603.0] * 20)  # Hopper: 1603 / 3206 = 0.5
    write_run(work, "rat", 2, [3206.0] * 20)  #         3206 / 3206 = 1, so the seeds' mean is 0.75
    write_run(work, "rat", 1, [1000.0] * 20, env_id="Walker2d-v5")  # Walker2d: 1000 / 4000 = 0.25
    write_run(work, "ppo", 1, [3206.0] * 20)  # no Walker2d run: no figure
    grid = write_grid(tmp_path, tmp_path / "fake.py")
    grid.write_text(grid.read_text().replace('BAR = {"Hopper-v5": 3206}', 'BAR = {"Hopper-v5": 3206, "Walker2d-v5": 4000}')
                    .replace('ENVS = ["Hopper-v5"]', 'ENVS = ["Hopper-v5", "Walker2d-v5"]'))
    report.main(report.Args(work_dir=str(work), out_dir=str(out), grid=str(grid), bar=True))
    table = (out / "table.md").read_text()
    assert "| return / bar, mean over the bar's envs | 1M | 0.50 | – | ≥ 1 |" in table  # (0.75 + 0.25) / 2
    assert table.count("return / bar") == 1  # the evaluation table has no bar


def test_transform_cost_quick_runs(tmp_path):
    out = tmp_path / "transform_cost.md"
    result = subprocess.run([sys.executable, str(BENCHMARK / "transform_cost.py"), "--quick", "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [line.split(" | ") for line in out.read_text().splitlines() if line.startswith("| 256 | 64 |")]
    assert [row[3] for row in rows] == ["dense Woodbury", "dense Fisher", "RAT, 3 sweeps", "RAT factored, 3 sweeps", "CG", "PPO update"]
    # N = 256 is one block of 256: RAT, on either path, is the dense solve up to float32 round-off, as is the dense Fisher solve
    assert all(float(row[4]) < 1e-4 for row in rows[1:4])
    assert "| 1024 | 256 | 71,948 | dense Fisher | – | out of memory budget (needs 116 GiB) |" in out.read_text()  # 24 d² bytes


def test_a_resumed_run_keeps_only_the_episodes_of_its_last_attempt(tmp_path):
    job_dir = tmp_path / "rat__Hopper-v5__s1__1M"
    (job_dir / "runs" / "r").mkdir(parents=True)
    (job_dir / "job.json").write_text(json.dumps(dict(method="rat", env_id="Hopper-v5", seed=1, total_timesteps=1_000_000)))
    # The first attempt logged episodes up to step 90 and died; its checkpoint was at step 50.
    with SummaryWriter(job_dir / "runs" / "r") as writer:
        for step in range(10, 100, 10):
            writer.add_scalar("charts/episodic_return", step, step)
    # The resumed attempt is a later process: its event file's name carries a later second. (Within one second the
    # files sort by a process-wide counter as text, so ".10" would be read before ".9".)
    time.sleep(1.1)
    with SummaryWriter(job_dir / "runs" / "r") as writer:
        for step in range(60, 130, 10):
            writer.add_scalar("charts/episodic_return", 1000 + step, step)
    run = report.read_run(job_dir, last_episodes=3)
    assert list(run["curve_steps"]) == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]
    assert run["last_return"] == 1110.0  # the mean of 1100, 1110, 1120: the resumed attempt's


def test_a_resumed_run_s_clock_leaves_out_the_time_it_was_down(tmp_path):
    job_dir = tmp_path / "rat__Hopper-v5__s1__1M"
    (job_dir / "runs" / "r").mkdir(parents=True)
    (job_dir / "job.json").write_text(json.dumps(dict(method="rat", env_id="Hopper-v5", seed=1, total_timesteps=1_000_000)))
    # One step per second. The first attempt logs steps 10 … 90 and dies; its checkpoint was at step 50.
    with SummaryWriter(job_dir / "runs" / "r") as writer:
        t0 = time.time()
        for step in range(10, 100, 10):
            writer.add_scalar("charts/episodic_return", step, step, walltime=t0 + step)
    time.sleep(1.1)  # the resumed attempt's event file must sort after the first (see the test above)
    # It comes back 5000 s later and logs steps 60 … 120 at the same pace: 10 s after its restart at step 50.
    with SummaryWriter(job_dir / "runs" / "r") as writer:
        for step in range(60, 130, 10):
            writer.add_scalar("charts/episodic_return", step, step, walltime=t0 + 5000 + step - 50)
    run = report.read_run(job_dir, last_episodes=3)
    # Uninterrupted, step 120 comes 120 s after the start; the 4950 s down (5010 − 60) are left out.
    assert run["wall_seconds"] == pytest.approx(120, abs=1)
    assert run["curve_minutes"] * 60 == pytest.approx([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120], abs=1)


def test_pixel_cost_keeps_the_sections_it_does_not_measure(tmp_path):
    import pixel_cost

    out = tmp_path / "pixel_cost.md"
    out.write_text("old header\n\n### Per-sample cost of a block's products\n\nthe old table\n\n### A section no part makes\n\nstale\n")
    pixel_cost.main(pixel_cost.Args(parts=(), out=str(out)))
    text = out.read_text()
    assert "### Per-sample cost of a block's products\n\nthe old table\n" in text
    assert "stale" not in text and "old header" not in text


def test_step_quality_measures_every_candidate_on_the_same_batches(tmp_path):
    out = tmp_path / "step_quality.md"
    checkpoint = BENCHMARK / "results" / "checkpoints" / "Walker2d-v5__rat-2-steps__s2__step491520.pt"
    result = subprocess.run([sys.executable, str(BENCHMARK / "step_quality.py"), "--checkpoint", str(checkpoint), "--lambdas", "0.1", "1.0",
                             "--train-batches", "3", "--heldout-batches", "2", "--batch-size", "128", "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [line.strip("| ").split(" | ") for line in out.read_text().splitlines() if line.startswith("| RAT") or line.startswith("| dense") or line.startswith("| none")]
    assert [row[0] for row in rows] == ["RAT λ = 0.1", "RAT λ = 1", "dense λ = 0.1", "none (vanilla gradient, KL-sized)"]
    assert rows[0][3] == "+0.00000 ± 0.00000"  # the reference against itself
    # the line search accepts a step only if the batch's surrogate improves and KL ≤ δ, and puts the policy back otherwise
    assert all(float(row[1]) >= 0 and float(row[4]) <= 0.01 for row in rows)


def test_report_tabulates_a_scalar_over_the_first_and_last_tenth_of_the_budget(tmp_path):
    work, out = tmp_path / "work", tmp_path / "results"
    for seed, scale in ((1, 1.0), (2, 2.0)):
        write_run(work, "rat", seed, [1.0] * 30)
        with SummaryWriter(next((work / f"rat__Hopper-v5__s{seed}__1M" / "runs").iterdir())) as writer:
            for step in range(50_000, 1_000_001, 50_000):  # the value is step / 1M × scale
                writer.add_scalar("policy/relative_residual", step / 1e6 * scale, step)
    report.main(report.Args(work_dir=str(work), out_dir=str(out), grid=str(write_grid(tmp_path, tmp_path / "fake.py")),
                            scalars=("policy/relative_residual", "policy/not_logged")))
    # first 10% of the budget: steps 50k and 100k, mean 0.075 × scale; last 10%: 950k and 1M, mean 0.975 × scale;
    # over the seeds (scale 1 and 2): 0.1125 → 1.4625
    text = (out / "scalars.md").read_text()
    assert "| Hopper-v5 | 1M | policy/relative_residual | 0.11 → 1.5 (2) |" in text
    assert "| Hopper-v5 | 1M | policy/not_logged | – |" in text


def test_windows_tabulates_returns_lengths_and_falls_per_window(tmp_path, capsys):
    work = tmp_path / "work"
    # write_run ends episode i at step 1000·(i+1): window (0, 3000] holds episodes 0-2, (3000, 6000] episodes 3-5
    returns = [10.0, 20.0, 30.0, 400.0, 500.0, 600.0]
    lengths = [50.0, 60.0, 1000.0, 1000.0, 1000.0, 99.0]
    write_run(work, "rat", 1, returns, lengths=lengths)
    write_run(work, "ppo", 1, [1.0] * 6)  # not matched by the pattern
    windows.main(windows.Args(jobs=("rat__*",), work_dir=str(work), window=3000))
    text = capsys.readouterr().out
    assert "rat__Hopper-v5__s1__1M (finished; last 20 episodes 260)" in text and "ppo" not in text
    assert "| 0–3,000 | 3 | 20 | 10 | 30 | 370 | 2 |" in text  # two episodes shorter than 100 steps
    assert "| 3,000–6,000 | 3 | 500 | 400 | 600 | 700 | 1 |" in text
    rows = windows.window_rows(np.array([1000, 2000]), np.array([5.0, 7.0]), np.array([]), 0, 4000, 2000, 100)
    assert [row["episodes"] for row in rows] == [2, 0] and np.isnan(rows[0]["length"]) and np.isnan(rows[1]["mean"])
    with pytest.raises(SystemExit, match="No job under"):
        windows.main(windows.Args(jobs=("trpo__*",), work_dir=str(work)))


@pytest.mark.parametrize("flags, message", [(["--lambdas", "0"], "--lambdas needs"), (["--train-batches", "1"], "--train-batches must be")])
def test_step_quality_bad_input_stops_with_one_sentence(flags, message):
    checkpoint = BENCHMARK / "results" / "checkpoints" / "Walker2d-v5__rat-2-steps__s2__step491520.pt"
    result = subprocess.run([sys.executable, str(BENCHMARK / "step_quality.py"), "--checkpoint", str(checkpoint), *flags],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_readme_links_point_at_its_headings_and_files():
    import re

    readme = (BENCHMARK.parent / "README.md").read_text()
    # a heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens
    anchors = {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
               for line in readme.splitlines() if line.startswith("#")}
    for target in re.findall(r"\]\(([^)\s]+)\)", readme):
        if target.startswith("#"):
            assert target[1:] in anchors, f"README links to {target}, which no heading makes"
        elif not target.startswith("http"):
            assert (BENCHMARK.parent / target).exists(), f"README links to {target}, which does not exist"


def test_pixel_step_size_compares_candidates_on_identical_footing(tmp_path, monkeypatch):
    """Every candidate starts from the same agent, Adam state, partition and epoch order: a RAT candidate whose
    transform handed back A unchanged must reproduce PPO's row digit for digit, and a real one must differ."""
    import pixel_step_size

    import rat_atari_dmc_pixels as pixels

    monkeypatch.chdir(tmp_path)
    pixels.train(pixels.Args(env_id="ALE/Breakout-v5", total_timesteps=32, num_envs=2, num_steps=16, num_minibatches=2,
                             checkpoint_every=1, cuda=False))
    checkpoint = str(next(tmp_path.glob("runs/*/checkpoint.pt")))

    def table(out):
        lines = out.read_text().splitlines()
        return {row[0]: row[1:] for row in (line.strip("| ").split(" | ") for line in lines if line.startswith(("| PPO", "| RAT")))}

    table_path = tmp_path / "real.md"
    pixel_step_size.main(pixel_step_size.Args(checkpoint=checkpoint, lambdas=(0.1,), batches=2, out=str(table_path)))
    real = table(table_path)
    assert list(real) == ["PPO (A)", "RAT λ = 0.1"]
    assert float(real["PPO (A)"][0].split(" ± ")[0]) > 0 and real["PPO (A)"][1] == "1.00"
    assert real["RAT λ = 0.1"][0] != real["PPO (A)"][0]

    monkeypatch.setattr(pixels, "transform_advantages", lambda agent, batch, adv, minibatches, args: adv)
    identity_path = tmp_path / "identity.md"
    pixel_step_size.main(pixel_step_size.Args(checkpoint=checkpoint, lambdas=(0.1,), batches=2, out=str(identity_path)))
    identity = table(identity_path)
    assert identity["RAT λ = 0.1"] == identity["PPO (A)"] == real["PPO (A)"]


@pytest.mark.parametrize("flags, message", [(["--lambdas", "0"], "--lambdas needs"), (["--batches", "1"], "--batches must be")])
def test_pixel_step_size_bad_input_stops_with_one_sentence(flags, message):
    result = subprocess.run([sys.executable, str(BENCHMARK / "pixel_step_size.py"), "--checkpoint", "unused.pt", *flags],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr
