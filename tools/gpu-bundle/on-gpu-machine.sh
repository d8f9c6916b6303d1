#!/bin/sh
# The GPU benchmark on the project's occasional GPU machine (an NVIDIA GPU, no Node, no
# network), run from the repository root by the device tool. Prepared beforehand, because
# device time is short (15 minutes, start-up included); see README "Benchmark on a GPU server".
#
# Needs, carried from the session's machine (both ignored by git):
#   dist/posenet-gpu-bench.tar.xz   npm run bundle:gpu -- --out dist/posenet-gpu-bench.tar.xz
#   .gl/*.deb                       Debian's Vulkan loader and GL dispatch libraries (the device
#                                   README's recipe: libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
# Writes to $OUT: gpu.txt (nvidia-smi), adapters.txt, bench.txt + bench.json (ours and
# tfjs-webgpu at 161, 257, 481, 801, per-pass GPU times at 481), bench-801.txt + .json
# (ours alone, per-pass at 801), and log.txt.
set -u
repo=$(pwd)
out=${OUT:-/tmp/gpu-bench-out}
mkdir -p "$out"
exec > "$out/log.txt" 2>&1
set -x

# The Vulkan loader and the GL libraries NVIDIA's Vulkan driver links against.
for f in .gl/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
ldconfig
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1 || true

# NVIDIA's ICD manifest: where the driver's package or the container runtime put it.
icd=${VK_ICD_FILENAMES:-}
for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
  [ -z "$icd" ] && [ -e "$f" ] && icd=$f
done
echo "ICD: ${icd:-none found}"
[ -n "$icd" ] && export VK_ICD_FILENAMES="$icd"

# Unpack as a user would (tar needs xz; Python's tarfile reads xz where tar cannot).
mkdir -p /tmp/gpu-bench && cd /tmp/gpu-bench || exit 1
tar -xf "$repo/dist/posenet-gpu-bench.tar.xz" || python3 -m tarfile -e "$repo/dist/posenet-gpu-bench.tar.xz" . || exit 1

./run.sh --adapter list > "$out/adapters.txt" 2>&1
start=$(date +%s)
./run.sh --resolutions 161,257,481,801 --frames 30 --warmup 5 --budget 60 --profile-frames 30 \
  --json "$out/bench.json" > "$out/bench.txt" 2> "$out/bench-progress.txt"
echo "bench exit $? after $(( $(date +%s) - start )) s"
./run.sh --impls ours --resolutions 801 --frames 30 --warmup 5 --profile-resolution 801 --profile-frames 30 \
  --json "$out/bench-801.json" > "$out/bench-801.txt" 2>> "$out/bench-progress.txt"
echo "bench-801 exit $?"
cat "$out/bench.txt"
