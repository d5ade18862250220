"""Benchmark: what layers cost. Publishing a 20 MB, 2,000-file layer, and the cold start of a
function with 0 and with 5 such layers, measured side by side in one run.

Starts its own Fireside (random port, temporary data dir, default sandbox). Cold starts are the
first invoke after a configuration change, timed at the client, alternating between the two
functions so that both see the same machine load. The first invoke of each function is reported
apart ("first use"): it unpacks nothing (publishing does), but merges the 5 layers into one
`/opt` view once.

Target (issue 4): 5 layers add at most 5 ms to a cold start after the first use of each layer.
Prints a table and writes JSON (default bench/results/layers.json).
Usage: python bench/layers.py [--cold 15] [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from common import ROLE, ROOT, client, log, start_server, zip_of

LAYERS = 5
FILES_PER_LAYER = 2000
LAYER_BYTES = 20 * 1024 * 1024
HANDLER = """
import layer4_marker  # found on /opt/python, from the last layer
def handler(event, context):
    return layer4_marker.WHO
"""


def layer_zip(index: int) -> bytes:
    """2,000 files of random (incompressible) bytes, 20 MB in all, plus a module to import."""
    size = LAYER_BYTES // FILES_PER_LAYER
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for n in range(FILES_PER_LAYER - 1):
            archive.writestr(f"python/data{index}/d{n % 20}/f{n}.bin", os.urandom(size))
        archive.writestr(f"python/layer{index}_marker.py", f"WHO = {index}\n")
    return buffer.getvalue()


def publish(lam: Any, zips: list[bytes]) -> tuple[list[str], list[float]]:
    arns, times = [], []
    for index, data in enumerate(zips):
        started = time.perf_counter()
        out = lam.publish_layer_version(
            LayerName=f"bench-{index}", Content={"ZipFile": data}, CompatibleRuntimes=["python3.11"]
        )
        times.append((time.perf_counter() - started) * 1000)
        arns.append(out["LayerVersionArn"])
    return arns, times


def cold_start(lam: Any, name: str, round_: int) -> float:
    lam.update_function_configuration(FunctionName=name, Description=f"round {round_}")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
    time.sleep(0.3)  # let the retired environment go and a spare be made
    started = time.perf_counter()
    out = lam.invoke(FunctionName=name)
    body = json.loads(out["Payload"].read())
    elapsed = (time.perf_counter() - started) * 1000
    if "FunctionError" in out:
        raise RuntimeError(f"{name} failed: {body}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cold", type=int, default=15, help="cold starts per function")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "layers.json")
    args = parser.parse_args()

    log(f"making {LAYERS} layers of {FILES_PER_LAYER} files, {LAYER_BYTES >> 20} MB each...")
    zips = [layer_zip(i) for i in range(LAYERS)]
    with tempfile.TemporaryDirectory() as data_dir:
        process, port = start_server(data_dir)
        try:
            lam = client(port)
            arns, publish_ms = publish(lam, zips)
            plain = zip_of("def handler(e, c):\n    return 0\n")
            lam.create_function(
                FunctionName="no-layers", Runtime="python3.11", Handler="app.handler",
                Role=ROLE, Code={"ZipFile": plain},
            )  # fmt: skip
            lam.create_function(
                FunctionName="five-layers", Runtime="python3.11", Handler="app.handler",
                Role=ROLE, Code={"ZipFile": zip_of(HANDLER)}, Layers=arns,
            )  # fmt: skip
            for name in ("no-layers", "five-layers"):
                lam.get_waiter("function_active_v2").wait(
                    FunctionName=name, WaiterConfig={"Delay": 0.05}
                )
            first = {}
            for name in ("no-layers", "five-layers"):
                started = time.perf_counter()
                out = lam.invoke(FunctionName=name)
                result = json.loads(out["Payload"].read())
                first[name] = (time.perf_counter() - started) * 1000
                if "FunctionError" in out:
                    raise RuntimeError(f"{name} failed: {result}")
                if name == "five-layers" and result != LAYERS - 1:
                    raise RuntimeError(f"the last layer's module was not imported: {result}")
            log(f"{args.cold} cold starts of each function...")
            cold: dict[str, list[float]] = {"no-layers": [], "five-layers": []}
            for i in range(args.cold):
                for name in cold:
                    cold[name].append(cold_start(lam, name, i))
        finally:
            process.terminate()
            process.wait(30)

    p50 = {name: statistics.median(times) for name, times in cold.items()}
    results: dict[str, Any] = {
        "layers": LAYERS,
        "files_per_layer": FILES_PER_LAYER,
        "layer_mb": LAYER_BYTES >> 20,
        "publish_ms": {"median": statistics.median(publish_ms), "max": max(publish_ms)},
        "first_use_ms": first,
        "cold_p50_ms": p50,
        "cold_min_ms": {name: min(times) for name, times in cold.items()},
        "added_by_5_layers_ms": p50["five-layers"] - p50["no-layers"],
    }
    print(f"{'':<28}{'0 layers':>12}{'5 layers':>12}{'added':>10}")
    print(f"{'cold start p50 (ms)':<28}{p50['no-layers']:>12.1f}{p50['five-layers']:>12.1f}"
          f"{results['added_by_5_layers_ms']:>10.1f}")  # fmt: skip
    print(f"{'cold start min (ms)':<28}{results['cold_min_ms']['no-layers']:>12.1f}"
          f"{results['cold_min_ms']['five-layers']:>12.1f}")  # fmt: skip
    print(f"{'first use (ms)':<28}{first['no-layers']:>12.1f}{first['five-layers']:>12.1f}")
    print(f"publish a {LAYER_BYTES >> 20} MB, {FILES_PER_LAYER}-file layer: median "
          f"{results['publish_ms']['median']:.0f} ms, max {results['publish_ms']['max']:.0f} ms")  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
