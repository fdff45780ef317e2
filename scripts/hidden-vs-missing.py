#!/usr/bin/env python3
"""Hidden vs missing repository timing through `forge-authz serve` (issue 20 item 8).

    python3 scripts/hidden-vs-missing.py [FORGE_AUTHZ_BINARY] [ROUNDS]

Starts the binary's `serve` on a fresh store in a temporary directory (loopback, a free
port), then asks `/-/auth` (Caddy/Traefik headers) with bob's read token, over one
keep-alive connection, interleaving three requests per round: alice/secret (private, bob
cannot see it), alice/missing (no such repository) and alice/guarded (private, with a
protected ref). All three answer the same 404; prints median, p10, p90 and the 10-90 %
mean of each, then stops the server and removes the directory.
"""
import base64, os, shutil, socket, statistics, subprocess, sys, tempfile, time

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/forge-authz"
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
d = tempfile.mkdtemp(prefix="hidden-vs-missing-")
server = None
try:
    world = os.path.join(d, "world.json")
    with open(world, "w") as f:
        f.write('{"keys":[{"id":"k1","secret":"' + "5a" * 32 + '"}],"signing_key":"k1",'
                '"users":[{"name":"alice"},{"name":"bob"}],"repositories":['
                '{"owner":"alice","name":"app"},{"owner":"alice","name":"secret","private":true},'
                '{"owner":"alice","name":"guarded","private":true,"protected_refs":'
                '[{"pattern":"main","push":"admins","force_push":"nobody"}]}]}')
    db = os.path.join(d, "forge.db")
    os.mkdir(os.path.join(d, "repos"))
    subprocess.run([binary, "init-db", "--db", db, "--world", world], check=True, capture_output=True)
    token = subprocess.run([binary, "token", "create", "--db", db, "--owner", "bob", "--name", "t",
                            "--scope", "read:repository"], check=True, capture_output=True, text=True).stdout.strip()
    port_file = os.path.join(d, "port")
    server = subprocess.Popen([binary, "serve", "--db", db, "--repos", os.path.join(d, "repos"),
                               "--listen", "127.0.0.1:0", "--port-file", port_file, "--forward-auth", "caddy"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not (os.path.exists(port_file) and open(port_file).read().strip()):
        assert time.time() < deadline and server.poll() is None, "serve did not start"
        time.sleep(0.05)
    port = int(open(port_file).read())
    auth = "Basic " + base64.b64encode(("bob:" + token).encode()).decode()
    reqs = {k: ("GET /-/auth HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nX-Forwarded-Method: GET\r\n"
                "X-Forwarded-Uri: /alice/%s.git/info/refs?service=git-upload-pack\r\n\r\n" % (auth, k)).encode()
            for k in ["secret", "missing", "guarded"]}
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def one(r):
        t = time.perf_counter_ns()
        s.sendall(r)
        buf = b""
        while True:
            buf += s.recv(65536)
            if b"\r\n\r\n" in buf:
                head, body = buf.split(b"\r\n\r\n", 1)
                n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
                if len(body) >= n:
                    return time.perf_counter_ns() - t, buf

    res = {k: [] for k in reqs}
    for _ in range(500):
        for r in reqs.values():
            one(r)
    for _ in range(rounds):
        for k, r in reqs.items():
            res[k].append(one(r)[0])
    bodies = {k: one(r)[1].split(b"\r\n\r\n", 1)[1] for k, r in reqs.items()}
    assert len(set(bodies.values())) == 1, bodies
    for k, v in res.items():
        v.sort()
        n = len(v)
        print("%-8s median %7.1f us  p10 %7.1f  p90 %7.1f  mean(10-90%%) %7.1f"
              % (k, v[n // 2] / 1e3, v[n // 10] / 1e3, v[9 * n // 10] / 1e3, statistics.mean(v[n // 10:9 * n // 10]) / 1e3))
finally:
    if server:
        server.terminate()
        server.wait(timeout=30)
    shutil.rmtree(d, ignore_errors=True)
