-- wrk script: POST /alerts, every request a new alert with an id of its own.
--
-- Usage: wrk -s post_alerts.lua -H "Authorization: Bearer <gateway key>" <url> -- prefix threads
-- (threads: wrk's -t, which a thread cannot learn safely otherwise).
-- Ids are <prefix>-<thread>-<counter>; each alert starts two hours after the one
-- before it (over all threads), so every alert opens an incident of its own, and the
-- four example MBAs take turns. done() prints how many answers were 201 Created, how
-- many were anything else (and a sample of their statuses), and how many requests were
-- made (those in flight when wrk stopped have no answer counted but may be stored).

local mbas = {"avi-rozenburg", "chemie-botlek", "gasturbine-maasvlakte", "tankopslag-europoort"}
local base = 1735689600 -- 2025-01-01T00:00:00Z
local threads = {}

-- set per thread by setup(); thread globals
tid = 0
nthreads = 1
prefix = "bench"
counter = 0
created = 0
other = 0
statuses = ""

function setup(thread)
   -- runs before the thread starts (and before its init)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   prefix = args[1] or prefix
   nthreads = tonumber(args[2] or "1")
   if tid >= nthreads then
      error("pass wrk's thread count after the prefix: -- prefix threads")
   end
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

local function iso(t)
   return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

function request()
   counter = counter + 1
   local n = counter * nthreads + tid
   local start = base + n * 7200
   local value = 400 + (n % 97)
   local body = string.format(
      '{"id":"%s-%d-%d","mba_id":"%s","source_id":"line-1","sensor_id":"cems-l1",'
         .. '"detector":"compliance","kind":"exceedance","substance":"NOx",'
         .. '"start":"%s","end":"%s","value":%d.0,"limit":400.0,"unit":"mg/m3",'
         .. '"lat":51.9051,"lon":4.2449,"severity":"medium",'
         .. '"lhso":{"consequence":1,"behaviour":"unknown","reason":"bench"},'
         .. '"evidence":{"average":"30min","samples":30}}',
      prefix, tid, counter, mbas[(n % #mbas) + 1], iso(start), iso(start + 1800), value
   )
   return wrk.format(nil, "/alerts", nil, body)
end

function response(status, headers, body)
   if status == 201 then
      created = created + 1
   else
      other = other + 1
      if #statuses < 200 then
         statuses = statuses .. " " .. status
      end
   end
end

function done(summary, latency, requests)
   local c, o, s, n = 0, 0, "", 0
   for _, t in ipairs(threads) do
      n = n + t:get("counter")
      c = c + t:get("created")
      o = o + t:get("other")
      s = s .. t:get("statuses")
   end
   io.write(string.format("vth-created %d\nvth-other %d\nvth-issued %d\n", c, o, n))
   io.write("vth-statuses" .. s .. "\n")
end
