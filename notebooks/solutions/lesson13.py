"""Lesson 13, the coding exercise: a fixed-window rate limiter in Lua."""

answer = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])   -- the first call starts the window
end
if count > tonumber(ARGV[1]) then
  return 0
end
return 1
"""
