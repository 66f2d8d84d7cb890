#!/bin/bash
# A sweep on a lent GPU machine (the device tool), from the shipped reader: five shared-normalisation runs
# side by side; the best trained candidate (seed checks first, then `val`: sweep.ranking) exported fp16 and
# sent back under $OUT in 15 MB parts.
#
#   here:   .venv/bin/python -m training.sweep pack     # .devdata + .devsite (git-ignored)
#   device: run with carry [".devdata", ".devsite"] and command "bash training/gpu_sweep.sh"
#   back:   cat winner.tar.part* | tar xf - ; then seed checks, `report`, `calibrate` here (README)
#
# What session 18 learnt there (each cost a try): the image has no articleqa install, and `python -m`
# from the repo root finds its articleqa/ folder first, so the package is mapped under /tmp/pkg and run
# from /tmp; bm25s imports JAX, which takes 75 % of the GPU per process unless told to stay on the CPU;
# the image's tokenizers 0.23.2 drops overflowing windows; a forked pool deadlocks once JAX is imported
# (groups.py spawns its workers). Session 21 (two calls, no weights back): the sweep never left tokenising,
# because one worker drew SQuAD-shifts Reddit, a whole file read as one 1.57 M-character document, and each
# question's windows were copied quadratically (200 of its questions: over 600 s here, 3.2 s now; the whole
# broad mix: 232-263 s on 2 workers here). groups.py now logs each part as it ends (sweep.log says how far
# it got). Every setting below can be overridden from the environment.
set -u
START=$(date +%s)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
REPO=$PWD
SITE=$REPO/.devsite
[ -d "$SITE/whl" ] && python3 -m pip install -q --no-index --no-deps --target /tmp/site "$SITE"/whl/*.whl
mkdir -p /tmp/pkg/articleqa && cp articleqa/*.py /tmp/pkg/articleqa/
for d in qa index ui seeds; do ln -sfn "$REPO/$d" "/tmp/pkg/articleqa/$d"; done
export JAX_PLATFORMS=cpu XLA_PYTHON_CLIENT_PREALLOCATE=false
export PYTHONPATH=/tmp/site:/tmp/pkg:$SITE PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
SW=${SW:-/tmp/sweep}
# five runs from the shipped reader, gentle to bold; RUNS replaces them (a dry run on a CPU: tiny ones)
RUNS=${RUNS:-"--run lr=3e-5,windows=6,epochs=2,groups=32,seed=17,evaluations=4
  --run lr=5e-5,windows=8,epochs=3,groups=32,seed=18,evaluations=4
  --run lr=2e-5,windows=4,epochs=2,groups=32,seed=19,evaluations=4
  --run lr=3e-5,windows=8,epochs=3,groups=16,seed=20,evaluations=4
  --run lr=1e-5,windows=8,epochs=1,groups=32,seed=21,evaluations=4"}
(nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv -l 30 > "$OUT/gpu.log" 2>&1 &)
cd /tmp || exit 1
timeout "${LIMIT:-500}" python3 -m training.sweep run --backbone "$REPO/qa/model" --out "$SW" \
  --data-dir "$REPO/.devdata/qa" --device "${DEVICE:-cuda}" --workers "${WORKERS:-16}" \
  --minutes "${MINUTES:-3.3}" --deadline-minutes "${DEADLINE:-4.2}" \
  --run-eval-questions "${RUNQ:-300}" --eval-questions "${EVALQ:-600}" $RUNS > "$OUT/sweep.out" 2>&1
echo "sweep rc $? after $(( $(date +%s) - START )) s" >> "$OUT/sweep.out"
(cd "$SW" && tar czf "$OUT/logs.tgz" sweep.log mix.json summary.json evaluations r*/train.log r*/stdout.log \
  r*/best.json 2>/dev/null)
if [ -f "$SW/winner/model.safetensors" ]; then  # the device tool returns files of at most 16 MiB
  tar cf - -C "$SW" winner | split -b 15M - "$OUT/winner.tar.part"
fi
python3 -c 'import tokenizers; print("tokenizers", tokenizers.__version__)'
ls -la "$OUT"; tail -25 "$SW/sweep.log"
