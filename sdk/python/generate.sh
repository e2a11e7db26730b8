#!/usr/bin/env bash
# Regenerates the gRPC code shipped in the package from proto/ferrotune/v1/ferrotune.proto.
#
#   sdk/python/generate.sh [OUT_DIR]
#
# OUT_DIR defaults to ferrotune/_proto next to this script (the tests generate into a
# temporary folder and compare). Needs grpcio-tools in $PYTHON (default python3); pin it to
# the grpcio version in pyproject.toml's lower bound, since the generated code requires a
# grpcio and a protobuf at least as new as the grpcio-tools that wrote it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
proto_root="$here/../../proto"
out="${1:-$here/ferrotune/_proto}"
python="${PYTHON:-python3}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The file keeps its name ferrotune/v1/ferrotune.proto in the descriptor pool.
"$python" -m grpc_tools.protoc -I"$proto_root" \
  --python_out="$tmp" --pyi_out="$tmp" --grpc_python_out="$tmp" \
  "$proto_root/ferrotune/v1/ferrotune.proto"

mkdir -p "$out"
for f in ferrotune_pb2.py ferrotune_pb2.pyi ferrotune_pb2_grpc.py; do
  # The generated code names the proto's folder (ferrotune.v1) as its package; inside this
  # package the modules sit in ferrotune._proto: import relatively, and name the module
  # that holds the message classes rightly (their __module__, which pickle uses).
  sed -e 's/^from ferrotune\.v1 import ferrotune_pb2 as /from . import ferrotune_pb2 as /' \
    -e "s/'ferrotune\.v1\.ferrotune_pb2'/'ferrotune._proto.ferrotune_pb2'/" \
    "$tmp/ferrotune/v1/$f" > "$out/$f"
done
if grep -q "^from ferrotune\.v1 \|'ferrotune\.v1\.ferrotune_pb2'" "$out"/*.py; then
  echo "generate.sh: the generated code changed shape; fix the import rewrite above" >&2
  exit 1
fi
