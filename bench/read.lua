-- GET /v1/opportunities/{id} over a list of deal ids (BENCH_IDS), authenticated.
local ids = {}
local token = os.getenv("BENCH_TOKEN")
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local i = 0
request = function()
  i = i + 1
  local id = ids[(i * 7919) % #ids + 1]
  return wrk.format("GET", "/v1/opportunities/" .. id, {["Authorization"] = "Bearer " .. token})
end
