#!/usr/bin/env bash
# mypy over the installed layout: the parts live in their own folders (edge/, cloud/, ...) but are
# imported as greenwire.edge, greenwire.cloud, ...; mypy cannot follow setuptools' editable import
# finder, so it reads a tree of links laid out as the wheel installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck
rm -rf "$tree"
mkdir -p "$tree/greenwire"
for path in greenwire/*; do
  [[ $(basename "$path") == __pycache__ ]] || ln -s "$PWD/$path" "$tree/greenwire/"
done
for part in shared transport edge cloud simulators; do
  ln -s "$PWD/$part" "$tree/greenwire/$part"
done
cd "$tree"
exec "${MYPY:-../../.venv/bin/mypy}" --config-file ../../pyproject.toml -p greenwire "$@"
