-- wrk script: every request its own external_call_id and its own valid French mobile number
-- (06 1x.. to 06 3x.. ranges are valid), so no report is a replay or inside a cooldown.
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("prefix", tostring(60 + counter))
  thread:set("run", tostring(os.time()))
end

function init(args)
  -- each wrk invocation starts further on, so a warm-up never shares numbers with the run
  seq = tonumber(os.getenv("RINGBACK_BENCH_OFFSET") or "0")
  token = os.getenv("RINGBACK_BENCH_TOKEN") or ""
end

function request()
  seq = seq + 1
  local number = string.format("+336%s%06d", prefix, seq % 1000000)
  local body = string.format(
    '{"caller_phone_number":"%s","external_call_id":"bench-%s-%s-%d"}', number, run, prefix, seq)
  return wrk.format("POST", "/api/partner/v1/missed-calls", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"non2xx\":%d," ..
    "\"connect_errors\":%d,\"read_errors\":%d,\"timeouts\":%d," ..
    "\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d}\n",
    summary.requests, summary.duration, non2xx, summary.errors.connect, summary.errors.read,
    summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
