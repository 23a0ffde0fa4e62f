#!/usr/bin/env bash
# The GPU check: one prepared run of the OpenCL backend on a lent GPU machine (no Java, no package registry there;
# ../shared/notes/gpu-device.md), sized for a 15-minute device lease. Two steps:
#
#   native/gpu-check.sh --prepare     here: builds the CLI jar (target/infercl-*-cli.jar) and puts it, a jlink'ed Java 25 runtime
#                                     (~45 MB) and the OpenCL ICD loader package into .gpu/ (git-ignored)
#   bash native/gpu-check.sh          there (the device tool's run, carrying .gpu): writes everything to $OUT
#
# There it: prints the OpenCL platforms it finds (registering NVIDIA's ICD itself when no vendors file names it);
# synthesizes the 110m and 1b presets; compares the GPU's top-1 token and top logit at every position of a prompt
# with the Java CPU backend's, with the GPU kernel shapes (default) and with the CPU-device shapes
# (-Dinfercl.opencl.lanes=0), FP16 and F32 KV caches; then runs `bench` on 110m/1b Q8_0 and 1b F16 in both
# shapes (MODELS=... picks other presets). Every step has its own time limit so a hang cannot eat the lease.
set -uo pipefail
cd "$(dirname "$0")/.."
G=.gpu

if [ "${1:-}" = "--prepare" ]; then
  set -e
  jdk=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
  ./infercl --version >/dev/null            # (re)builds the CLI jar when sources changed
  rm -rf "$G" && mkdir -p "$G"
  cp "$(ls -t target/infercl-*-cli.jar | head -n1)" "$G/infercl.jar"
  "$jdk/bin/jlink" --add-modules java.base,jdk.incubator.vector,java.logging,jdk.httpserver,java.management,jdk.management,jdk.unsupported \
    --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$G/jre"
  (cd "$G" && apt-get download ocl-icd-libopencl1 >/dev/null 2>&1) || echo "gpu-check: could not download ocl-icd-libopencl1 (the machine's own loader will be used)"
  grep -qx '/.gpu/' .gitignore || echo '/.gpu/' >> .gitignore
  du -sh "$G"
  echo "gpu-check: prepared; run 'bash native/gpu-check.sh' on the device machine with carry [\".gpu\"]"
  exit 0
fi

OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu-check.log") 2>&1
[ -x "$G/jre/bin/java" ] || { echo "gpu-check: $G/jre missing: run native/gpu-check.sh --prepare here first"; exit 2; }
# the launcher's JVM settings (./infercl): signal chaining for POCL/LLVM, G1 with a small young generation
[ -f "$G/jre/lib/libjsig.so" ] && export LD_PRELOAD="$PWD/$G/jre/lib/libjsig.so"
J="$G/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Xmn64m -jar $G/infercl.jar"
step() { local limit=$1; shift; echo "== $(date -u +%T) $*" >&2; timeout "$limit" "$@"; echo "   (exit $?)" >&2; }

# the OpenCL ICD loader (JOCL opens it as libOpenCL.so, which only a -dev package names), then NVIDIA's driver
# library as a vendor
loader=$(ldconfig -p 2>/dev/null | awk '/libOpenCL.so.1 / {print $NF; exit}')
if [ -z "$loader" ]; then
  for d in "$G"/*.deb; do [ -f "$d" ] && dpkg -x "$d" "$G/root"; done
  loader=$(ls "$PWD/$G"/root/usr/lib/x86_64-linux-gnu/libOpenCL.so.1 2>/dev/null)
fi
if [ -n "$loader" ]; then
  mkdir -p "$G/lib" && ln -sf "$loader" "$G/lib/libOpenCL.so" && ln -sf "$loader" "$G/lib/libOpenCL.so.1"
  export LD_LIBRARY_PATH="$PWD/$G/lib:${LD_LIBRARY_PATH:-}"
fi
if ! grep -qs nvidia /etc/OpenCL/vendors/*.icd; then
  lib=$(find /usr/local/nvidia /usr/lib/x86_64-linux-gnu -name 'libnvidia-opencl.so.1' 2>/dev/null | head -1)
  if [ -n "$lib" ]; then
    mkdir -p "$G/vendors" && echo "$lib" > "$G/vendors/nvidia.icd" && export OCL_ICD_VENDORS="$PWD/$G/vendors"
  fi
fi
echo "OpenCL loader: ${loader:-none found}; vendors: ${OCL_ICD_VENDORS:-/etc/OpenCL/vendors} ($(cat ${OCL_ICD_VENDORS:-/etc/OpenCL/vendors}/*.icd 2>/dev/null | tr '\n' ' '))"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -3
step 60 $J devices

M=/tmp/models; mkdir -p $M
MODELS=${MODELS:-110m-q8_0 1b-q8_0 1b-f16}   # preset-type names; 110m-q8_0 is also the correctness model
for m in 110m-q8_0 $MODELS; do
  [ -f $M/$m.gguf ] || step 300 $J synth --preset ${m%-*} --type ${m#*-} -o $M/$m.gguf
done

# correctness: the same greedy tokens and top logits as the Java CPU backend
for shape in "" "-Dinfercl.opencl.lanes=0"; do
  for kv in f32 f16; do
    tag="gpu${shape:+-cpushapes}-kv$kv"
    step 120 ${J/-jar/$shape -jar} logits -m $M/110m-q8_0.gguf --backend opencl --kv-type $kv --top 5 --json "Once upon a time there was" > "$OUT/logits-$tag.json"
  done
done
step 120 $J logits -m $M/110m-q8_0.gguf --backend cpu --top 5 --json "Once upon a time there was" > "$OUT/logits-cpu.json"
python3 - "$OUT" <<'EOF'
import json, sys, glob, os
out = sys.argv[1]
def load(p):
    try: return json.load(open(p))
    except Exception as e: return None
cpu = load(os.path.join(out, "logits-cpu.json"))
for p in sorted(glob.glob(os.path.join(out, "logits-gpu*.json"))):
    g = load(p)
    if not cpu or not g: print(os.path.basename(p), "unreadable"); continue
    print(os.path.basename(p), "keys:", list(g)[:6])
    try:
        rc, rg = cpu["positions"], g["positions"]
        top1 = sum(a["top"][0]["id"] == b["top"][0]["id"] for a, b in zip(rc, rg))
        diff = max(abs(a["top"][0]["logit"] - b["top"][0]["logit"]) for a, b in zip(rc, rg))
        print(f"  top-1 agreement {top1}/{len(rc)}, max |top logit difference| {diff:.3g}")
    except Exception as e:
        print("  compare by hand:", e)
EOF

# speed: the GPU shapes (default) against the CPU-device shapes
for m in $MODELS; do
  for shape in "" "-Dinfercl.opencl.lanes=0"; do
    step 150 ${J/-jar/$shape -jar} bench -m $M/$m.gguf --backend opencl -p 128,512 -n 128 -r 3 --long-ctx 2048 --json > "$OUT/bench-$m${shape:+-cpushapes}.json"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("  ", d.get("backend"), "| tg", round(d["tg_tokens_per_s"], 1), "| pp", {k: round(v, 1) for k, v in d["pp_tokens_per_s"].items()}, "| roofline", round(d["roofline_fraction"], 3), "of", round(d["bandwidth_gb_per_s"], 1), "GB/s | long/short", d.get("tg_long_ratio"))' "$OUT/bench-$m${shape:+-cpushapes}.json" 2>&1
  done
done
echo "gpu-check: done $(date -u +%T)"
