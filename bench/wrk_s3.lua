-- wrk script of bench/peers.py (not meant to be run by hand).
-- bench/peers.py signs every request in advance (presigned SigV4 URLs, one per line in a file), so wrk does
-- no crypto and the server still checks a signature per request.  Arguments after "--":
--   cycle FILE                      lines "METHOD TARGET", sent in turn, wrapping around
--   once FILE SIZE                  lines "TARGET", PUT with a SIZE-byte body, each line sent once
--   mix FILE_CYCLE FILE_ONCE SIZE PERCENT   PERCENT% from the cycled lines, the rest PUTs from the once-file
-- With one wrk thread (-t1, what bench/peers.py uses) no slicing is needed.  done() prints one line
-- "CAIRN_BENCH {json}".

local mode, host
local cycled, ci = {}, 0
local once, oi = {}, 0
local body, size = "", 0
local share = 0

local function lines(path)
  local t = {}
  for l in io.lines(path) do
    if #l > 0 then t[#t + 1] = l end
  end
  return t
end

local function cycle_requests(path)
  local t = {}
  for i, l in ipairs(lines(path)) do
    local sp = l:find(" ", 1, true)
    t[i] = l:sub(1, sp - 1) .. " " .. l:sub(sp + 1) .. " HTTP/1.1\r\nHost: " .. host .. "\r\n\r\n"
  end
  return t
end

local function filler(n)
  local block = {}
  for i = 1, 256 do block[i] = string.char((i * 37 + 11) % 256) end
  local b = table.concat(block)
  return string.rep(b, math.floor(n / 256)) .. b:sub(1, n % 256)
end

function init(args)
  mode = args[1]
  host = wrk.headers["Host"] or (wrk.host .. ":" .. wrk.port)
  if mode == "cycle" then
    cycled = cycle_requests(args[2])
  elseif mode == "once" then
    once, size = lines(args[2]), tonumber(args[3])
  elseif mode == "mix" then
    cycled, once, size, share = cycle_requests(args[2]), lines(args[3]), tonumber(args[4]), tonumber(args[5]) / 100
  end
  if size > 0 then
    body = filler(size)
  end
  math.randomseed(4242)
end

local function next_cycled()
  ci = ci % #cycled + 1
  return cycled[ci]
end

local function next_put()
  oi = oi + 1
  if oi > #once then
    -- every prepared key is used: stop this thread (bench/peers.py flags the cell as capped)
    wrk.thread:stop()
    oi = 1
  end
  return "PUT " .. once[oi] .. " HTTP/1.1\r\nHost: " .. host .. "\r\nContent-Length: " .. size .. "\r\n\r\n" .. body
end

function request()
  if mode == "cycle" then
    return next_cycled()
  elseif mode == "once" then
    return next_put()
  end
  if math.random() < share then
    return next_cycled()
  end
  return next_put()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nCAIRN_BENCH {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
