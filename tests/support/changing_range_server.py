"""A byte-range server whose file misbehaves, for the URL sources' checks (tests/support/ranges.rs).

Serves FILE (argv[2]) on 127.0.0.1:PORT (argv[1]) with CORS for any origin (Range allowed;
Content-Range, ETag and Last-Modified exposed) and these paths:
  /changes-after/N/video  the first N answers are of version 1, every later one of version 2 (another
                          ETag and Last-Modified, the same bytes: the file was replaced meanwhile)
  /shifted/video          every range answered one byte later than asked, as its Content-Range says
  /steady/video           neither
"""

import http.server
import os
import sys
import threading

FILE = sys.argv[2]
DATA = open(FILE, "rb").read()
SEEN = {}
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def cors(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "Range")
        self.send_header("Access-Control-Expose-Headers", "Content-Range, Content-Length, ETag, Last-Modified")
        self.send_header("Cross-Origin-Resource-Policy", "cross-origin")

    def do_OPTIONS(self):
        self.send_response(204)
        self.cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):
        self.answer(body=False)

    def do_GET(self):
        self.answer(body=True)

    def answer(self, body):
        parts = self.path.strip("/").split("/")
        with LOCK:
            SEEN[self.path] = SEEN.get(self.path, 0) + 1
            seen = SEEN[self.path]
        version = 1
        if parts[0] == "changes-after" and seen > int(parts[1]):
            version = 2
        shift = 1 if parts[0] == "shifted" else 0
        etag = f'"v{version}"'
        modified = f"Mon, 0{version} Dec 2026 10:00:00 GMT"
        size = len(DATA)
        wanted = self.headers.get("Range", "")
        if_range = self.headers.get("If-Range")
        ranged = wanted.startswith("bytes=") and (if_range is None or if_range in (etag, modified))
        if ranged:
            first, _, last = wanted[6:].partition("-")
            first = min(int(first) + shift, size - 1)
            last = min(int(last or size - 1) + shift, size - 1)
            chunk = DATA[first : last + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        else:
            chunk = DATA
            self.send_response(200)
        self.cors()
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", modified)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        if body:
            self.wfile.write(chunk)


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
