"""Code generated from proto/ferrotune/v1/ferrotune.proto by generate.sh; do not edit."""
