-- wrk script for `make loadtest`: POST /v1/images/generations in one of three
-- shapes, chosen by IMAGEGW_LOAD_MODE:
--   hit   one prompt, cached before the run
--   miss  a new prompt every time (the mock delays each answer)
--   mix   90 % one of IMAGEGW_LOAD_HOT warmed prompts, 10 % new ones
-- Every response status is counted per thread; done() prints one line
-- "LOADRESULT {json}" with the totals and latency percentiles (microseconds).
local threads = {}
local mode = os.getenv("IMAGEGW_LOAD_MODE") or "hit"
local hot = tonumber(os.getenv("IMAGEGW_LOAD_HOT") or "50")
local tag = os.getenv("IMAGEGW_LOAD_TAG") or "load"
local delay = os.getenv("IMAGEGW_LOAD_DELAY") or "0.2"

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

function init(args)
	counter = 0
	statuses = {}
	math.randomseed(os.time() + tid * 7919)
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
end

local function body(prompt)
	return '{"prompt":"' .. prompt .. '","model":"gemini-3-pro-image"}'
end

function request()
	counter = counter + 1
	local prompt
	if mode == "hit" or (mode == "mix" and math.random() < 0.9) then
		prompt = tag .. " hot " .. (mode == "hit" and 0 or math.random(0, hot - 1))
	else
		prompt = string.format("%s miss %d-%d-%d mock:delay=%s", tag, tid, counter,
			math.random(1, 1000000000), delay)
	end
	return wrk.format(nil, nil, nil, body(prompt))
end

function response(status, headers, body)
	statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
	local total = {}
	for _, t in ipairs(threads) do
		for status, n in pairs(t:get("statuses")) do
			total[tostring(status)] = (total[tostring(status)] or 0) + n
		end
	end
	local parts = {}
	for status, n in pairs(total) do
		table.insert(parts, string.format('"%s":%d', status, n))
	end
	io.write(string.format('LOADRESULT {"requests":%d,"seconds":%.3f,"p50":%d,"p99":%d,'
		.. '"max":%d,"socket_errors":%d,"timeouts":%d,"statuses":{%s}}\n',
		summary.requests, summary.duration / 1e6, latency:percentile(50),
		latency:percentile(99), latency.max, summary.errors.connect + summary.errors.read
		+ summary.errors.write, summary.errors.timeout, table.concat(parts, ",")))
end
