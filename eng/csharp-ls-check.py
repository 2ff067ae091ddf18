#!/usr/bin/env python3
"""What an editor running csharp-ls shows of the TenantDbGuard rules: starts csharp-ls in a project folder, opens one
file with `csharp.analyzersEnabled` on or off, prints the TDG diagnostics it publishes and the code actions it offers
at the first one.

    dotnet tool install --global csharp-ls --version 0.28.0
    python3 eng/csharp-ls-check.py samples/Leaks LeakyTenantQueries.cs true
    python3 eng/csharp-ls-check.py samples/Leaks LeakyTenantQueries.cs false
"""
import json, subprocess, sys, threading, time, os, queue
root = os.path.abspath(sys.argv[1]); target = sys.argv[2]; enabled = sys.argv[3] == "true"
p = subprocess.Popen([os.path.expanduser("~/.dotnet/tools/csharp-ls")], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
q = queue.Queue()
def reader():
    f = p.stdout
    while True:
        headers = {}
        while True:
            line = f.readline()
            if not line: return
            line = line.decode().strip()
            if not line: break
            k, v = line.split(":", 1); headers[k.lower()] = v.strip()
        body = f.read(int(headers["content-length"]))
        q.put(json.loads(body))
threading.Thread(target=reader, daemon=True).start()
nid = [0]
def send(method, params, is_request=True):
    msg = {"jsonrpc": "2.0", "method": method, "params": params}
    if is_request:
        nid[0] += 1; msg["id"] = nid[0]
    data = json.dumps(msg).encode()
    p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data); p.stdin.flush()
    return msg.get("id")
settings = {"csharp": {"analyzersEnabled": enabled}}
uri_root = "file://" + root
send("initialize", {"processId": os.getpid(), "rootUri": uri_root, "capabilities": {"workspace": {"configuration": True}, "textDocument": {"publishDiagnostics": {}}}, "initializationOptions": settings, "workspaceFolders": [{"uri": uri_root, "name": "w"}]})
target_uri = "file://" + os.path.join(root, target)
text = open(os.path.join(root, target)).read()
deadline = time.time() + (240 if enabled else 90)
opened = False
best = None
while time.time() < deadline:
    try: m = q.get(timeout=5)
    except queue.Empty:
        if opened: send("textDocument/diagnostic", {"textDocument": {"uri": target_uri}})
        continue
    if m.get("id") == 1 and "result" in m:
        send("initialized", {}, False)
        send("workspace/didChangeConfiguration", {"settings": settings}, False)
        send("textDocument/didOpen", {"textDocument": {"uri": target_uri, "languageId": "csharp", "version": 1, "text": text}}, False)
        opened = True
    elif m.get("method") == "workspace/configuration":
        items = m["params"]["items"]
        res = [settings.get(i.get("section", ""), settings) if i.get("section") != "csharp" else settings["csharp"] for i in items]
        data = json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": res}).encode()
        p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data); p.stdin.flush()
    elif m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == target_uri:
        diags = [d for d in m["params"]["diagnostics"] if str(d.get("code", "")).startswith("TDG")]
        if diags: best = diags; break
    elif "result" in m and isinstance(m.get("result"), dict) and m["result"].get("kind") == "full":
        diags = [d for d in m["result"].get("items", []) if str(d.get("code", "")).startswith("TDG")]
        if diags: best = diags; break
    elif m.get("id") is not None and m.get("method"):
        data = json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": None}).encode()
        p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data); p.stdin.flush()
print("csharp.analyzersEnabled=%s: %d TenantDbGuard diagnostics in %s" % (str(enabled).lower(), len(best or []), target))
if best:
    cid = send("textDocument/codeAction", {"textDocument": {"uri": target_uri}, "range": best[0]["range"], "context": {"diagnostics": [best[0]]}})
    end = time.time() + 60
    while time.time() < end:
        try: m = q.get(timeout=5)
        except queue.Empty: continue
        if m.get("id") == cid:
            titles = [a.get("title") for a in (m.get("result") or [])]
            print("code actions at the first TDG001:", titles)
            break
for d in (best or [])[:3]:
    print("  line %d col %d %s %s" % (d["range"]["start"]["line"]+1, d["range"]["start"]["character"]+1, d.get("code"), d["message"][:110]))
p.kill()
