-- wrk script: the request given on the command line, answers counted by status.
--
-- Usage: wrk -s count.lua [-H ...] <url>
-- done() prints how many answers were 2xx and how many were anything else.

local threads = {}

ok = 0
other = 0

function setup(thread)
   table.insert(threads, thread)
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local o, x = 0, 0
   for _, t in ipairs(threads) do
      o = o + t:get("ok")
      x = x + t:get("other")
   end
   io.write(string.format("vth-ok %d\nvth-other %d\n", o, x))
end
