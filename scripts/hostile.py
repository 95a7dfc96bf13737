#!/usr/bin/env python3
"""Hostile inputs of docs/SECURITY.md, and what each costs a real node.

    scripts/hostile.py files DIR            # write the hostile files (the fuzz seeds)
    scripts/hostile.py rss target/release/gonghui [--json OUT] [--only NAME]

`rss` starts the binary once per input on a database of its own (Postgres at
127.0.0.1:5432, user postgres), logs in, resets the node's peak resident memory, sends
that one input, and reports the peak over the idle resident memory (VmHWM − VmRSS
before), what is still held half a second later, the answer, and the slowest /healthz
answered while an upload ran. Only the standard
library: nothing here shares code with the server it measures.
"""

import argparse
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile

PG = "postgres://postgres@127.0.0.1:5432"
ADMIN_PHONE, ADMIN_PASSWORD = "13800000000", "admin-pass-1"
MIB = 1 << 20

# --- files -------------------------------------------------------------------------

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def credit_code(n):
    """A valid unified social credit code (GB 32100-2015), one per n."""
    body = f"81440101MC{n:07d}"
    total = sum(CHARSET.index(c) * w for c, w in zip(body, WEIGHTS))
    return body + CHARSET[(31 - total % 31) % 31]


def xlsx(sheet_rows, shared=None):
    """A minimal workbook: sheet rows as XML, and shared strings as <si> bodies."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                   '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                   + ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>' if shared else "")
                   + "</Types>")
        z.writestr("_rels/.rels",
                   '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml",
                   '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                   'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                   '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                   + ('<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>' if shared else "")
                   + "</Relationships>")
        if shared:
            z.writestr("xl/sharedStrings.xml",
                       '<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                       + "".join(f"<si>{s}</si>" for s in shared) + "</sst>")
        z.writestr("xl/worksheets/sheet1.xml",
                   '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                   + "".join(sheet_rows) + "</sheetData></worksheet>")
    return out.getvalue()


def header_row():
    """The member template's required columns, so a file is read past its header."""
    cells = "".join(f'<c r="{c}1" t="inlineStr"><is><t>{name}</t></is></c>'
                    for c, name in zip("ABC", ["姓名", "手机号", "身份证号"]))
    return f'<row r="1">{cells}</row>'


def shared_cells(rows):
    return [header_row()] + [f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c></row>' for r in range(2, rows + 2)]


def tree_csv(rows):
    header = "工会名称,统一社会信用代码,上级工会信用代码,上级工会,地址,纬度,经度,联系人,联系电话,管理员姓名,管理员手机号,管理员权限"
    return ("\n".join([header] + rows) + "\n").encode()


def chain(n, child_first, top_parent):
    rows = [f"工会{i},{credit_code(10_000 + i)},{top_parent if i == 0 else credit_code(9_999 + i)},,,,,,,,,"
            for i in range(n)]
    return rows[::-1] if child_first else rows


def files():
    """name → (route kind, content type, bytes): the inputs SECURITY.md names."""
    one_mib = "a" * MIB
    runs = "".join(f"<r><t>{'b' * (64 * 1024 - 1024)}</t></r>" for _ in range(16))
    return {
        # One 1 MiB shared string referenced by 400 cells (issue 31, item 2).
        "shared-string.xlsx": ("members", "xlsx", xlsx(shared_cells(400), [f"<t>{one_mib}</t>"])),
        # The same, split in rich-text runs short enough for the XML bound.
        "shared-string-runs.xlsx": ("members", "xlsx", xlsx(shared_cells(400), [runs])),
        # One inline cell of 200 MiB (item 5).
        "big-cell.xlsx": ("members", "xlsx", xlsx(
            [header_row(), '<row r="2"><c r="A2" t="inlineStr"><is><t>' + "c" * (200 * MIB) + "</t></is></c></row>"])),
        # 16 MiB of commas, and 50,000 rows of one value and 320 empty cells (item 5).
        "commas.csv": ("members", "csv", b"," * (16 * MIB - 1024)),
        "empty-cells.csv": ("members", "csv",
                            ("姓名,手机号,身份证号\n" + ("张三" + "," * 320 + "\n") * 50_000).encode()),
        # A 3,000-deep chain by credit code (item 3), and 50,000 rows child first under an
        # unknown parent (item 4).
        "tree-deep.csv": ("tree", "csv", tree_csv(chain(3_000, False, ""))),
        "tree-child-first.csv": ("tree", "csv", tree_csv(chain(50_000, True, credit_code(99_999)))),
    }


# --- a node --------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, body=None, token=None, content_type="application/json", timeout=300):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", content_type)
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields


class Node:
    def __init__(self, binary, database_url, env):
        self.port = free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}"],
            env={**os.environ, **env, "DATABASE_URL": database_url},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if call("GET", f"{self.http}/healthz", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("the node did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def websocket_bombs(node, sockets=8, seconds=3.0):
    """Sockets that declare a 1 GiB frame and stream zeros until the node closes them."""
    sent = [0] * sockets

    def one(i):
        s = socket.create_connection(("127.0.0.1", node.port))
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        s.sendall(bytes([0x82, 0x80 | 127]) + (1 << 30).to_bytes(8, "big") + b"\x00\x00\x00\x00")
        chunk = b"\x00" * (256 * 1024)
        end = time.time() + seconds
        s.settimeout(0.5)
        try:
            while time.time() < end:
                s.sendall(chunk)
                sent[i] += len(chunk)
        except OSError:
            pass
        s.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(sockets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return f"{sockets} sockets, {sum(sent) // MIB} MiB taken before the close"


def upload(node, token, kind, fmt, data):
    union = 1
    path = "members/import" if kind == "members" else "tree/import"
    slowest = [0.0]
    done = threading.Event()

    def poll():
        while not done.is_set():
            asked = time.time()
            try:
                call("GET", f"{node.http}/healthz", timeout=120)
            except OSError:
                pass  # as slow as it took to give up
            slowest[0] = max(slowest[0], time.time() - asked)
            time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    status, body = call("POST", f"{node.http}/api/v1/unions/{union}/{path}?format={fmt}", data, token,
                        content_type="application/octet-stream")
    done.set()
    poller.join()
    try:
        answer = json.loads(body)
        why = answer.get("error", {}).get("fields", {}).get("file") or answer.get("error", {}).get("message")
        if why is None and "failed" in answer:
            why = f"{answer['failed']} of {answer.get('total')} rows failed"
    except ValueError:
        why = body[:80]
    return f"{status} {why}", round(slowest[0] * 1000, 1)


def measure(binary, only=None):
    cases = [("ws-1gib-frames", None)] + list(files().items())
    cases = [(name, case) for name, case in cases if only is None or name == only]
    database_url = f"{PG}/gonghui_hostile_{secrets.token_hex(4)}"
    env = {"GONGHUI_DATA_KEY": secrets.token_hex(32), "GONGHUI_LOG": "warn"}
    subprocess.run([binary, "bootstrap", "--union-name", "广东省总工会", "--admin-phone", ADMIN_PHONE,
                    "--admin-password", ADMIN_PASSWORD],
                   env={**os.environ, **env, "DATABASE_URL": database_url}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = []
    try:
        for name, case in cases:
            node = Node(binary, database_url, env)
            try:
                status, body = call("POST", f"{node.http}/api/v1/auth/login",
                                    {"phone": ADMIN_PHONE, "password": ADMIN_PASSWORD, "client": "console"})
                token = json.loads(body)["token"]
                time.sleep(0.5)
                # The login's password check has its own peak: start counting after it.
                with open(f"/proc/{node.process.pid}/clear_refs", "w") as f:
                    f.write("5")
                idle = memory(node.process.pid)["VmRSS"]
                started = time.time()
                if case is None:
                    answer, slowest = websocket_bombs(node), None
                else:
                    answer, slowest = upload(node, token, *case)
                took = time.time() - started
                time.sleep(0.5)
                after = memory(node.process.pid)
                row = {"input": name, "bytes": len(case[2]) if case else None,
                       "peak_over_idle_mib": round((after["VmHWM"] - idle) / 1024, 1),
                       "kept_after_mib": round((after["VmRSS"] - idle) / 1024, 1),
                       "seconds": round(took, 2), "slowest_healthz_ms": slowest, "answer": answer}
                results.append(row)
                print(json.dumps(row, ensure_ascii=False), flush=True)
            finally:
                node.stop()
    finally:
        subprocess.run(["psql", PG + "/postgres", "-qc", f'DROP DATABASE IF EXISTS "{database_url.rsplit("/", 1)[1]}"'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("files")
    write.add_argument("dir")
    rss = sub.add_parser("rss")
    rss.add_argument("binary")
    rss.add_argument("--json")
    rss.add_argument("--only", help="one input, by name")
    args = parser.parse_args()
    if args.command == "files":
        os.makedirs(args.dir, exist_ok=True)
        for name, (_, _, data) in files().items():
            with open(os.path.join(args.dir, name), "wb") as f:
                f.write(data)
    else:
        results = measure(args.binary, args.only)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": f"{os.cpu_count()} cores", "results": results}, f, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    sys.exit(main())
