#!/usr/bin/env bash
# Runs `infercl bench --json` for every MODEL × BACKEND given and prints the docs/PERFORMANCE.md table rows.
#
#   native/bench-table.sh OUT.jsonl "MODEL.gguf..." "opencl cpu" [extra bench options]
#
# Each run appends one JSON object (plus the load average when it started) to OUT.jsonl, so an interrupted
# sweep keeps what it measured; the table is printed from the whole file at the end (needs jq).
set -euo pipefail
out=$1 models=$2 backends=$3
shift 3
extra=("$@")
[ ${#extra[@]} -gt 0 ] || extra=(-p 32,128,512 -n 128 -r 2 --long-ctx 0)
cd "$(dirname "$0")/.."
for m in $models; do
    for b in $backends; do
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        start=$(date -u +%H:%M:%S)
        echo "$start load $load bench $(basename "$m" .gguf) $b" >&2
        json=$(./infercl bench -m "$m" --backend "$b" "${extra[@]}" --json)
        jq -c --arg load "$load" --arg start "$start" '. + {load_avg: $load, started_utc: $start}' <<<"$json" >> "$out"
    done
done
echo "| model | backend | pp32 tok/s | pp128 tok/s | pp512 tok/s | tg128 tok/s | CPU ms/token | probes GB/s (before, after decode) | roofline tok/s | % of roofline | achieved GB/s | peak host | backend buffers | load |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
jq -r 'def f: . * 10 | round / 10;
       def gib: . / 1073741824 * 100 | round / 100 | tostring + " GiB";
       [ (.model | split("/") | last | sub("\\.gguf$"; "")), (.backend | split(":")[0] | split(" ")[0]),
         (. as $r | ["32", "128", "512"][] | . as $k
            | ($r.pp_tokens_per_s[$k] // null | if . then f | tostring else "–" end)
              + (if $r.pp_tokens_per_s_sd[$k] then " ± " + ($r.pp_tokens_per_s_sd[$k] | f | tostring) else "" end)),
         ((.tg_tokens_per_s | f | tostring) + " ± " + (.tg_tokens_per_s_sd | f | tostring)),
         (.tg_cpu_ms_per_token // null | if . then f | tostring else "–" end),
         ((.bandwidth_probes_gb_per_s // [.bandwidth_gb_per_s]) | map(f | tostring) | join(", ")), (.roofline_tokens_per_s | f | tostring),
         ((.roofline_fraction * 100 | round | tostring) + "%"),
         (.tg_tokens_per_s * .bytes_per_token / 1e9 | f | tostring),
         (.peak_host_bytes | gib), (.device_bytes | gib), .load_avg ]
       | "| " + join(" | ") + " |"' "$out"
