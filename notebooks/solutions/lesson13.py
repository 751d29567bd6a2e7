"""Lesson 13, the exercise: the seed's ticket-creation rate limiter, a fixed window in Lua."""


def allow_ticket(client, keys, user_id, limit, window_ms):
    script = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])   -- the first call starts the window
end
if count > tonumber(ARGV[1]) then
  return 0
end
return 1
"""
    limiter = client.register_script(script)  # EVALSHA; the script again after NOSCRIPT
    answer = limiter(keys=[keys.rate_limit("tickets", user_id)], args=[limit, window_ms])
    return answer == 1
