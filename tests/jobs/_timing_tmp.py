import time, functools
import tests.jobs.processes as P
import tests.jobs.test_faults as F
def wrap(mod, name):
    f = getattr(mod, name)
    @functools.wraps(f)
    def w(*a, **k):
        t = time.monotonic()
        try: return f(*a, **k)
        finally: print(f"  {name}: {time.monotonic()-t:.2f}s", flush=True)
    setattr(mod, name, w)
for n in ("_sweep_cli", "_wait_for", "_submit"): wrap(F, n)
for n in ("start", "stop_all"): 
    f = getattr(P.Workers, n)
    def mk(f, n):
        def w(*a, **k):
            t=time.monotonic()
            try: return f(*a, **k)
            finally: print(f"  Workers.{n}: {time.monotonic()-t:.2f}s", flush=True)
        return w
    setattr(P.Workers, n, mk(f, n))
for n in ("start","stop"):
    f = getattr(P.RedisServer, n)
    def mk(f, n):
        def w(*a, **k):
            t=time.monotonic()
            try: return f(*a, **k)
            finally: print(f"  Redis.{n}: {time.monotonic()-t:.2f}s", flush=True)
        return w
    setattr(P.RedisServer, n, mk(f, n))
orig = F.issuing_ca
def ic(*a):
    t=time.monotonic(); r=orig(*a); print(f"  issuing_ca {time.monotonic()-t:.2f}"); return r
F.issuing_ca = ic
