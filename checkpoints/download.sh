#!/usr/bin/env bash
# Download (or build) registered checkpoints into the cache: ./checkpoints/download.sh NAME [NAME ...]
set -euo pipefail
exec python -m annotator_widgets.checkpoints fetch "${@:-sam2.1_hiera_tiny}"
