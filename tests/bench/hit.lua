-- wrk script: POST one generation request (a cache hit after the warm-up).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("IMAGEGW_BENCH_BODY") or '{"prompt":"bench hit","model":"gemini-3-pro-image"}'
