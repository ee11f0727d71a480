-- wrk script: GET /alerts/{id} over ids known to exist, read from a file (one a line).
--
-- Usage: wrk -s get_alert.lua -H "Authorization: Bearer <key>" <url> -- <ids file>
-- Each thread walks the ids from its own offset. done() prints how many answers were
-- 200 OK and how many were anything else.

local threads = {}
local ids = {}
local next_index = 1

tid = 0
ok = 0
other = 0

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   for line in io.lines(args[1]) do
      if #line > 0 then
         table.insert(ids, line)
      end
   end
   if #ids == 0 then
      error("no alert ids in " .. args[1])
   end
   next_index = (tid * 7919) % #ids + 1
end

function request()
   local id = ids[next_index]
   next_index = next_index % #ids + 1
   return wrk.format("GET", "/alerts/" .. id)
end

function response(status, headers, body)
   if status == 200 then
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
