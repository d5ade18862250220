#!/usr/bin/env bash
# The deploy tools the tests drive against Fireside, installed from the registries into
# .tools/ (kept out of Fireside's own venv: aws-sam-cli pins its own boto3):
#   .tools/sam/bin/sam           aws-sam-cli (PyPI)
#   .tools/node/node_modules/    aws-cdk (the cdk CLI), aws-cdk-lib, constructs, and
#                                typescript with ts-node for a TypeScript CDK app (npm)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
SAM_VERSION=1.170.0
CDK_VERSION=2.1149.0
CDK_LIB_VERSION=2.278.0
TS_NODE_VERSION=10.9.2
mkdir -p .tools
if [ ! -x .tools/sam/bin/sam ] || ! .tools/sam/bin/sam --version | grep -q "$SAM_VERSION"; then
  echo "deploy tools: installing aws-sam-cli $SAM_VERSION into .tools/sam"
  "$PYTHON" -m venv .tools/sam
  .tools/sam/bin/pip install --quiet --upgrade pip
  .tools/sam/bin/pip install --quiet "aws-sam-cli==$SAM_VERSION"
fi
if [ ! -x .tools/node/node_modules/.bin/cdk ] || [ ! -x .tools/node/node_modules/.bin/ts-node ] \
  || ! .tools/node/node_modules/.bin/cdk --version | grep -q "$CDK_VERSION"; then
  command -v npm >/dev/null || { echo "deploy tools: npm is missing (scripts/system-deps.sh installs it)" >&2; exit 1; }
  echo "deploy tools: installing aws-cdk $CDK_VERSION and aws-cdk-lib $CDK_LIB_VERSION into .tools/node"
  mkdir -p .tools/node
  (cd .tools/node && [ -f package.json ] || echo '{"private": true}' > package.json)
  (cd .tools/node && npm install --silent --no-audit --no-fund \
    "aws-cdk@$CDK_VERSION" "aws-cdk-lib@$CDK_LIB_VERSION" "constructs@10" \
    "typescript@5" "ts-node@$TS_NODE_VERSION")
fi
