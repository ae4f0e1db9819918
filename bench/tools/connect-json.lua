-- wrk script for the Connect JSON rows: POST HandleRequest JSON with a unique work id per
-- request and the Connect protocol's timeout header; prints one summary line as JSON.
-- Arguments (after --): id prefix, base64 payload, deadline in milliseconds.
local prefix, payload
local counter = 0

function init(args)
  prefix = args[1]
  payload = args[2]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Connect-Protocol-Version"] = "1"
  wrk.headers["Connect-Timeout-Ms"] = args[3]
end

function request()
  counter = counter + 1
  local body = '{"work":{"id":"' .. prefix .. '-' .. counter .. '","producerId":"' .. prefix ..
    '","sequence":"' .. counter .. '","sentAt":"' .. os.date("!%Y-%m-%dT%H:%M:%SZ") ..
    '","payload":"' .. payload .. '"}}'
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"errors":%d,"durationUs":%d,"p50":%d,"p99":%d}\n',
    summary.requests, errors.connect + errors.read + errors.write + errors.status + errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
