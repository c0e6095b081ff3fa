-- POST /v1/opportunities/{id}/transitions: each wrk thread owns a slice of the deals and
-- walks them round-robin, toggling each deal between two stages (with a reason, since
-- every other move is backwards). Deals start in the pipeline's first stage.
local ids = {}
local token = os.getenv("BENCH_TOKEN")
local stage_a, stage_b = os.getenv("BENCH_STAGE_A"), os.getenv("BENCH_STAGE_B")
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
local threads = tonumber(os.getenv("BENCH_THREADS") or "2")
local counter = 0
local mine = {}
setup = function(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
init = function(args)
  for k = 1, #ids do
    if (k - 1) % threads == tid then mine[#mine + 1] = ids[k] end
  end
end
local n = 0
local body_fmt = '{"to_stage_id":"%s","reason":"bench 基准"}'
request = function()
  local id = mine[(n % #mine) + 1]
  local round = math.floor(n / #mine)
  n = n + 1
  local target = (round % 2 == 0) and stage_a or stage_b
  return wrk.format("POST", "/v1/opportunities/" .. id .. "/transitions",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"},
    string.format(body_fmt, target))
end
