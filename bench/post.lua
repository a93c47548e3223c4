-- POST a body to the URL on every request (the echo scenario).
-- Usage: wrk -s bench/post.lua URL -- [size]   (size in bytes, default 4096, filled with "x")
-- wrk calls init() before it formats the request, so the body set here is the one sent.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"

function init(args)
  local size = tonumber(args[1]) or 4096
  wrk.body = string.rep("x", size)
end
