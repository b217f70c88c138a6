-- wrk script of the soak: every request asks for a path picked at random from a file.
--   wrk -t2 -c64 -d60s -s tests/soak/mixed.lua http://127.0.0.1:PORT -- urls.txt
-- One path per line (version, tag and pool URLs); each wrk thread has its own seed.

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

local paths = {}

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      paths[#paths + 1] = line
    end
  end
  math.randomseed(7919 * seed)
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
