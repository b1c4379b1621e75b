"""A container's limits under cgroup v1 (Docker on a host that has not moved to v2, Slurm's v1 plugin), as under v2:
the memory estimate and the automatic count of decoding processes keep to them."""

from __future__ import annotations

from pathlib import Path

from wildgan.data import decode_pool

NO_LIMIT_V1 = "9223372036854771712"          # what memory.limit_in_bytes holds where no limit is set


def _v1_tree(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """A cgroup v1 mount (memory and cpu,cpuacct) with this process in /slurm/job_7/step_0, and /proc/self/cgroup
    saying so; (the memory job folder, the cpu job folder)."""
    root = tmp_path / "sys-fs-cgroup"
    mem_job = root / "memory" / "slurm" / "job_7"
    cpu_job = root / "cpu" / "slurm" / "job_7"
    for d in (mem_job / "step_0", cpu_job / "step_0"):
        d.mkdir(parents=True)
    (tmp_path / "cgroup").write_text("12:pids:/slurm/job_7/step_0\n4:memory:/slurm/job_7/step_0\n"
                                     "3:cpu,cpuacct:/slurm/job_7/step_0\n1:name=systemd:/slurm\n")
    monkeypatch.setattr(decode_pool, "_PROC_CGROUP", str(tmp_path / "cgroup"), raising=False)
    monkeypatch.setattr(decode_pool, "_CGROUP_ROOT", str(root), raising=False)
    (tmp_path / "meminfo").write_text(f"MemAvailable:   {32 * 2**20} kB\n")      # the machine: 32 GiB free
    monkeypatch.setattr(decode_pool, "_MEMINFO", str(tmp_path / "meminfo"))
    return mem_job, cpu_job


def test_a_cgroup_v1_memory_limit_lowers_the_memory_available(tmp_path, monkeypatch):
    # only cgroup v2's memory.max was read: in a v1 container of 10 GiB on a machine with 32 GiB free, a pile of
    # 20 GiB was not warned of, and the out-of-memory killer then stopped the run without a message
    mem_job, _ = _v1_tree(tmp_path, monkeypatch)
    (mem_job / "step_0" / "memory.limit_in_bytes").write_text(NO_LIMIT_V1 + "\n")    # the limit is the job's
    (mem_job / "memory.limit_in_bytes").write_text(f"{10 * 2**30}\n")
    (mem_job / "memory.usage_in_bytes").write_text(f"{6 * 2**30}\n")
    (mem_job / "memory.stat").write_text(f"cache 9\ninactive_file 1\ntotal_inactive_file {2 * 2**30}\n")
    # 10 GiB limit - (6 GiB used - 2 GiB of page cache, counted over the job's whole tree)
    assert decode_pool.host_memory_available() == 6 * 2**30
    (mem_job / "memory.limit_in_bytes").write_text(NO_LIMIT_V1 + "\n")
    assert decode_pool.host_memory_available() == 32 * 2**30


def test_automatic_workers_keep_to_a_cgroup_v1_cpu_quota(tmp_path, monkeypatch):
    _, cpu_job = _v1_tree(tmp_path, monkeypatch)
    (cpu_job / "cpu.cfs_quota_us").write_text("200000\n")          # 2 CPUs' time
    (cpu_job / "cpu.cfs_period_us").write_text("100000\n")
    (cpu_job / "step_0" / "cpu.cfs_quota_us").write_text("-1\n")   # (no quota of its own)
    (cpu_job / "step_0" / "cpu.cfs_period_us").write_text("100000\n")
    monkeypatch.setattr(decode_pool.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setenv("WILDGAN_DECODE_WORKERS", "auto")
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    n = 10 * decode_pool.PARALLEL_DECODE_MIN_FILES
    assert decode_pool.decode_workers(n) == 1
    # a system that mounts the joined controllers by their joined name only, with no link named cpu
    joined = cpu_job.parents[1].with_name("cpu,cpuacct")
    cpu_job.parents[1].rename(joined)
    assert decode_pool.decode_workers(n) == 1
    (joined / "slurm" / "job_7" / "cpu.cfs_quota_us").write_text("-1\n")
    assert decode_pool.decode_workers(n) == 8
