#!/bin/sh
# posenet-webgpu GPU benchmark (made by `npm run bundle:gpu`): ours against TF.js PoseNet on
# the same Dawn adapter, end to end ms per frame and GPU ms per pass. Needs only an x86-64
# Linux with a Vulkan driver: Node, Dawn, the model, a photograph and a Vulkan loader are here.
#
#   ./run.sh [--resolutions 161,257,481,801] [--json out.json] [--adapter list | <N | name>] [other bench flags]
#
# Environment: VK_ICD_FILENAMES (or VK_DRIVER_FILES) chooses the Vulkan driver's manifest,
# e.g. /usr/share/vulkan/icd.d/nvidia_icd.json; without it the loader's default folders are
# searched. POSENET_VULKAN_LOADER=bundled uses the Vulkan loader in lib/vulkan even where
# the system has one (=system: never the bundled one).
#
# Only shell built-ins and ldconfig are used: it runs with an empty PATH (`env -i ./run.sh`).
set -eu
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
here=$(CDPATH='' cd -- "$here" && pwd)

# The Vulkan loader (libvulkan.so.1): the system's when it has one, else Debian's libvulkan1 from lib/vulkan.
system_loader() {
  for ldconfig in /sbin/ldconfig /usr/sbin/ldconfig /usr/bin/ldconfig; do
    if [ -x "$ldconfig" ]; then
      case $("$ldconfig" -p 2>/dev/null) in *'libvulkan.so.1 '*) return 0 ;; esac
      break
    fi
  done
  for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64 /usr/lib /usr/local/lib; do
    [ -e "$dir/libvulkan.so.1" ] && return 0
  done
  return 1
}
loader_choice=${POSENET_VULKAN_LOADER:-auto}
if [ "$loader_choice" = bundled ] || { [ "$loader_choice" = auto ] && ! system_loader; }; then
  if [ -e "$here/lib/vulkan/libvulkan.so.1" ]; then
    LD_LIBRARY_PATH="$here/lib/vulkan${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
    echo "run.sh: using the bundled Vulkan loader ($here/lib/vulkan/libvulkan.so.1)" >&2
  fi
fi

export POSENET_WEBGPU_ROOT="$here"
exec "$here/node/bin/node" "$here/bench.mjs" --runtime node \
  --models posenet-mobilenet-v1-075-s16 --image "$here/images/bench.jpg" \
  --resolutions 161,257,481,801 --profile-resolution 481 "$@"
