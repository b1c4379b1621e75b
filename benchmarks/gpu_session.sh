#!/usr/bin/env bash
# One prepared call for a session that is lent a GPU (the `device` tool; ~15 min of device time in total).
# Before the call, on the development machine:
#   mkdir -p devdata && cp ../shared/data/cifar10/cifar10-jpeg.tar.gz devdata/      (19 MB; devdata/ is git-ignored)
#   then: run(command="bash benchmarks/gpu_session.sh", carry=["devdata"], timeout_s=560)
#   (the device machine installs the package itself; TRAIN_MIN=... sets the budget of the width-256 run)
# It checks the CUDA fast path, benchmarks, trains the paper's full CIFAR_CAR schedule at width 256 within a
# wall-clock budget, evaluates with controls, and prints one table. Everything lands in $OUT.
set -uo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
DATA=devdata/cifar10-jpeg.tar.gz
export WILDGAN_CACHE="$PWD/cache"
step() { echo; echo "=== $* ($(date +%T))"; }

step environment
# The device image has torch and every dependency but can fetch nothing: run from the source tree.
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -c "import torch, wildgan; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.csv"

step "fast-path checks on CUDA (capture, validation, no host sync)"
timeout 120 python3 -m pytest -q tests/unit/test_fast_path.py -k cuda 2>&1 | tail -3 | tee "$OUT/fast_path_tests.txt"

step "benchmark (paper and fast, quick)"
timeout 150 python3 benchmarks/bench.py --device cuda --preset paper,fast --quick --json "$OUT/bench-cuda.json" \
  | tee "$OUT/bench-cuda.txt"

step "CIFAR_CAR, gamma 0, paper schedule (600/600 kimg, 4000 kimg) at width 256, budget ${TRAIN_MIN:-5} min"
timeout $(( ${TRAIN_MIN:-5} * 60 + 120 )) python3 -m wildgan train --data "$DATA" --dataset cifar10 --normal automobile \
  --contamination 0 --preset paper --width 256 --seed 0 --device cuda --minutes "${TRAIN_MIN:-5}" \
  --no-progress --out "$OUT/car-w256-g0" 2>&1 | tail -3
timeout 120 python3 -m wildgan evaluate "$OUT/car-w256-g0" --json --device cuda > "$OUT/car-w256-g0-eval.json"

step "fast preset, gamma 0 and 2%, 1.5 min each"
for g in 0 0.02; do
  timeout 200 python3 -m wildgan train --data "$DATA" --dataset cifar10 --normal automobile --contamination $g --preset fast \
    --seed 0 --device cuda --minutes 1.5 --no-progress --out "$OUT/car-fast-g$g" 2>&1 | tail -1
  timeout 60 python3 -m wildgan evaluate "$OUT/car-fast-g$g" --json --device cuda > "$OUT/car-fast-g$g-eval.json"
done

step summary
python3 - "$OUT" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
print(f"{'run':<16}{'kimg':>8}{'a':>7}{'L_n':>7}{'L_o':>7}{'L_r':>7}{'A':>7}{'untr a':>8}{'-|Q|':>7}")
for p in sorted(out.glob("*-eval.json")):
    try:
        e = json.loads(p.read_text())
    except Exception as exc:  # noqa: BLE001
        print(p.name, "no result:", exc); continue
    a, c = e["auc"], e["controls"]
    print(f"{p.name[:-10]:<16}{e['model'].get('kimg') or 0:>8.0f}" + "".join(f"{a[k]:>7.3f}" for k in ("a", "L_n", "L_o", "L_r", "A"))
          + f"{c['untrained']['a']:>8.3f}{c['pixel_norm']:>7.3f}")
PY
