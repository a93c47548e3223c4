-- Pipelined requests: send `depth` GET requests per write (the TechEmpower way).
-- Usage: wrk -s bench/pipeline.lua URL -- [depth]   (default 16)
-- wrk counts every response, so req/s is comparable; latency is per batch, not per request.

local req

function init(args)
  local depth = tonumber(args[1]) or 16
  local batch = {}
  for i = 1, depth do
    batch[i] = wrk.format()
  end
  req = table.concat(batch)
end

function request()
  return req
end
