#!/usr/bin/env python3
"""End-to-end test of `groot serve`, driven the way robot code drives the
reference server: a ZeroMQ REQ socket, msgpack, and numpy arrays sent as
{"__ndarray_class__": True, "as_npy": <np.save bytes>} (the reference's
ExternalRobotInferenceClient). Covers ping, get_modality_config, get_action
(single and batched; single compared with `groot run --json` on the same
observation and seed), the token rules, kill, SIGTERM, the HTTP API, and
hostile messages, each of which must get an error reply while the server keeps
answering ping.

Exit 77 (skipped) only when pyzmq, msgpack or numpy cannot be imported.
"""
import argparse
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib

try:
    import msgpack
    import numpy as np
    import zmq
except ImportError as e:  # the CI installs them; a bare machine skips
    print(f"SKIP: {e}")
    sys.exit(77)

DATA_CONFIG = "fourier_gr1_arms_only"
EMBODIMENT = "gr1"
LANG_KEY = "annotation.human.action.task_description"


# ---- the reference client's wire format ----

def encode_custom(obj):
    if isinstance(obj, np.ndarray):
        buf = io.BytesIO()
        np.save(buf, obj, allow_pickle=False)
        return {"__ndarray_class__": True, "as_npy": buf.getvalue()}
    return obj


def decode_custom(obj):
    if "__ModalityConfig_class__" in obj:
        return json.loads(obj["as_json"])
    if "__ndarray_class__" in obj:
        return np.load(io.BytesIO(obj["as_npy"]), allow_pickle=False)
    return obj


class Client:
    """ExternalRobotInferenceClient, as robot code uses it."""

    def __init__(self, port, token=None, timeout_ms=120000):
        self.ctx = zmq.Context.instance()
        self.port, self.token, self.timeout_ms = port, token, timeout_ms
        self._socket()

    def _socket(self):
        self.sock = self.ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, self.timeout_ms)
        self.sock.setsockopt(zmq.SNDTIMEO, self.timeout_ms)
        self.sock.connect(f"tcp://127.0.0.1:{self.port}")

    def raw(self, payload: bytes):
        self.sock.send(payload)
        return msgpack.unpackb(self.sock.recv(), object_hook=decode_custom)

    def call(self, endpoint, data=None, requires_input=True, token=None):
        req = {"endpoint": endpoint}
        if requires_input:
            req["data"] = data
        tok = token if token is not None else self.token
        if tok:
            req["api_token"] = tok
        return self.raw(msgpack.packb(req, default=encode_custom))

    def ping(self):
        try:
            return self.call("ping", requires_input=False)
        except zmq.error.Again:
            self.sock.close(0)
            self._socket()
            return None

    def close(self):
        self.sock.close(0)


# ---- helpers ----

def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def write_png(path, img):
    """An 8-bit RGB PNG, written by hand so the test needs nothing but numpy."""
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def synth_model(groot, work):
    model = os.path.join(work, "tiny")
    if not os.path.exists(os.path.join(model, "config.json")):
        os.makedirs(work, exist_ok=True)
        subprocess.run([groot, "synth", "--preset", "tiny", "--seed", "1", "--out", model], check=True)
    return model


def state_dims(model, state_keys):
    """Each state key's width, from the checkpoint's experiment_cfg/metadata.json."""
    with open(os.path.join(model, "experiment_cfg", "metadata.json")) as f:
        meta = json.load(f)
    emb = meta.get(EMBODIMENT) or next(iter(meta.values()))
    dims = {}
    for key in state_keys:
        short = key.split(".", 1)[1]
        shape = emb.get("modalities", {}).get("state", {}).get(short, {}).get("shape")
        if shape:
            dims[key] = int(shape[0])
        else:
            dims[key] = len(emb["statistics"]["state"][short]["mean"])
    return dims


def make_observation(video_keys, dims, batch=None, seed=0, instruction="pick up the apple"):
    rng = np.random.default_rng(seed)
    obs = {}
    lead = () if batch is None else (batch,)
    for k in video_keys:
        obs[k] = rng.integers(0, 256, size=lead + (1, 48, 64, 3), dtype=np.uint8)
    for k, d in dims.items():
        # multiples of 1/8: exact in text, so `groot run --state` sees the same numbers
        obs[k] = (rng.integers(-8, 8, size=lead + (1, d)) / 8.0).astype(np.float32)
    obs[LANG_KEY] = [instruction] * (batch or 1)
    return obs


class Server:
    """A `groot serve` process on a free loopback port (random, retried)."""

    def __init__(self, groot, model, work, extra=(), http=False, tag="serve"):
        self.log_path = os.path.join(work, f"{tag}.log")
        for _ in range(8):
            self.port = random.randint(20000, 60000)
            self.http_port = self.port + 1 if http else None
            cmd = [groot, "serve", "--model", model, "--data-config", DATA_CONFIG, "--embodiment", EMBODIMENT,
                   "--host", "127.0.0.1", "--port", str(self.port), "--seed", "7", *extra]
            if http:
                cmd += ["--http-port", str(self.http_port)]
            self.log = open(self.log_path, "w")
            self.proc = subprocess.Popen(cmd, stderr=self.log, stdout=subprocess.DEVNULL)
            if self._wait_listening():
                return
            self.stop()
            if "cannot bind" not in self.text() and "cannot start the HTTP" not in self.text():
                fail(f"server did not start:\n{self.text()}")
        fail("no free port found")

    def _wait_listening(self, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            if "listening on tcp://" in self.text():
                return True
            time.sleep(0.1)
        return False

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def actions_from_json(doc):
    """The action.* arrays in `groot run --json` output, wherever they sit."""
    if isinstance(doc, dict):
        found = {k: np.asarray(v, dtype=np.float64) for k, v in doc.items()
                 if k.startswith("action.") and isinstance(v, list)}
        if found:
            return found
        for v in doc.values():
            found = actions_from_json(v)
            if found:
                return found
    return {}


def run_reference(groot, model, work, obs, video_keys, dims):
    cmd = [groot, "run", "--model", model, "--data-config", DATA_CONFIG, "--embodiment", EMBODIMENT,
           "--seed", "7", "--json", "--instruction", obs[LANG_KEY][0]]
    for k in video_keys:
        path = os.path.join(work, k.replace(".", "_") + ".png")
        write_png(path, obs[k][0])
        cmd += ["--image", f"{k}={path}"]
    for k in dims:
        cmd += ["--state", k + "=" + ",".join(repr(float(x)) for x in obs[k][0])]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return actions_from_json(json.loads(out))


# ---- the tests ----

def test_main_server(groot, model, work):
    srv = Server(groot, model, work, http=True)
    c = Client(srv.port)
    try:
        check(c.ping() == {"status": "ok", "message": "Server is running"}, "ping")

        cfg = c.call("get_modality_config", requires_input=False)
        check(set(cfg) == {"video", "state", "action", "language"}, f"modalities {sorted(cfg)}")
        for m, v in cfg.items():
            check(set(v) == {"delta_indices", "modality_keys"}, f"{m}: {v}")
        check(cfg["language"]["modality_keys"] == [LANG_KEY], f"language keys {cfg['language']}")
        video_keys = cfg["video"]["modality_keys"]
        dims = state_dims(model, cfg["state"]["modality_keys"])
        action_keys = cfg["action"]["modality_keys"]

        # The first get_action, compared with `groot run` on the same observation and seed.
        obs = make_observation(video_keys, dims, seed=1)
        act = c.call("get_action", obs)
        check("error" not in act, f"get_action: {act}")
        check(sorted(act) == sorted(action_keys), f"action keys {sorted(act)}")
        for k, v in act.items():
            check(v.dtype == np.float32 and v.ndim == 2 and v.shape[0] == 16, f"{k}: {v.dtype} {v.shape}")
            check(np.isfinite(v).all(), f"{k}: not finite")
        ref = run_reference(groot, model, work, obs, video_keys, dims)
        check(sorted(ref) == sorted(act), f"groot run keys {sorted(ref)}")
        for k in act:
            ok = np.allclose(act[k], ref[k].reshape(act[k].shape), rtol=1e-5, atol=1e-5)
            check(ok, f"{k}: server and `groot run` differ by {np.abs(act[k] - ref[k].reshape(act[k].shape)).max()}")
        print("get_action matches `groot run --json`")

        # Batched, with a list of instructions; and with the observation as a whole request.
        bobs = make_observation(video_keys, dims, batch=3, seed=2)
        bact = c.call("get_action", bobs)
        for k in action_keys:
            check(bact[k].shape[:2] == (3, 16) and bact[k].shape[2] == act[k].shape[1], f"batched {k}")
        flat = {**obs}
        resp = c.raw(msgpack.packb(flat, default=encode_custom))
        check(sorted(resp) == sorted(action_keys), f"request without endpoint: {resp if 'error' in resp else ''}")

        # Hostile messages: each an error reply, and the server still answers.
        def expect_error(payload, want, what):
            r = c.raw(payload)
            check(isinstance(r, dict) and "error" in r, f"{what}: {r!r:.200}")
            check(want in r["error"], f"{what}: error '{r['error']}' lacks '{want}'")
            check(c.ping() is not None, f"{what}: no ping afterwards")

        good = msgpack.packb({"endpoint": "get_action", "data": obs}, default=encode_custom)
        rng = random.Random(5)
        for i in range(30):
            r = c.raw(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
            check(isinstance(r, dict) and "error" in r, f"random bytes {i}: {r!r:.200}")
        for cut in (1, 10, len(good) // 2, len(good) - 1):
            expect_error(good[:cut], "truncated" if cut > 1 else "", f"truncated at {cut}")
        expect_error(b"\x81\xa1k" * 10000 + b"\xc0", "nesting", "deep nesting")
        expect_error(b"\xdd\xff\xff\xff\xff", "claims", "array claiming 2^32 items")
        expect_error(msgpack.packb({"endpoint": "fly"}), "Unknown endpoint: fly", "unknown endpoint")

        def with_array(key, npy_bytes):
            bad = {k: encode_custom(v) for k, v in obs.items()}
            bad[key] = {"__ndarray_class__": True, "as_npy": npy_bytes}
            return msgpack.packb({"endpoint": "get_action", "data": bad})

        vk, sk = video_keys[0], next(iter(dims))
        hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }"

        def npy(header, data):
            h = header.encode() + b"\n"
            return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data

        expect_error(with_array(sk, npy(hdr % "1, 400", bytes(28))), "claims", "lying header")
        expect_error(with_array(sk, npy(hdr % "536870912,", bytes(16))), "limit", "2 GB claimed array")
        expect_error(with_array(sk, npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", bytes(8))),
                     "unsupported dtype", "object dtype")
        fo = io.BytesIO()
        np.save(fo, np.asfortranarray(np.zeros((1, 7, 2), np.float32)))
        expect_error(with_array(sk, fo.getvalue()), "fortran", "fortran order")
        wrong = dict(obs)
        wrong[vk] = obs[vk][0]  # [H,W,3]: a dimension short
        expect_error(msgpack.packb({"endpoint": "get_action", "data": wrong}, default=encode_custom),
                     vk, "wrong video shape")
        wrong = dict(obs)
        del wrong[LANG_KEY]
        expect_error(msgpack.packb({"endpoint": "get_action", "data": wrong}, default=encode_custom),
                     LANG_KEY, "missing language")
        wrong = dict(obs)
        wrong[sk] = np.zeros((1, dims[sk] + 3), np.float32)
        r = c.call("get_action", wrong)
        check("error" in r, f"wrong state width accepted: {r!r:.200}")
        wrong = {("video.nope" if k == vk else k): v for k, v in obs.items()}
        r = c.call("get_action", wrong)
        check("error" in r, f"wrong video key accepted: {r!r:.200}")
        check(c.ping() is not None, "ping after hostile input")
        print("hostile messages answered with errors")

        # HTTP: health, act (json_numpy), errors.
        base = f"http://127.0.0.1:{srv.http_port}"
        with urllib.request.urlopen(base + "/health", timeout=30) as r:
            check(json.load(r) == {"status": "healthy", "model": "GR00T"}, "health")

        def jnp(a):
            import base64
            return {"__numpy__": base64.b64encode(a.tobytes()).decode(), "dtype": a.dtype.str, "shape": list(a.shape)}

        body = json.dumps({"observation": {k: (jnp(v) if isinstance(v, np.ndarray) else v) for k, v in obs.items()}})
        req = urllib.request.Request(base + "/act", data=body.encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            out = json.load(r)
        import base64
        for k in action_keys:
            a = np.frombuffer(base64.b64decode(out[k]["__numpy__"]), out[k]["dtype"]).reshape(out[k]["shape"])
            check(a.shape == act[k].shape, f"http {k}: {a.shape}")
        try:
            urllib.request.urlopen(urllib.request.Request(base + "/act", data=b"{nope"), timeout=30)
            fail("bad JSON accepted over HTTP")
        except urllib.error.HTTPError as e:
            check(e.code == 400 and "detail" in json.load(e), f"bad JSON: HTTP {e.code}")
        print("HTTP /health and /act work")

        # kill: a reply, then the process exits 0.
        r = c.call("kill", requires_input=False)
        check(isinstance(r, dict) and "error" not in r, f"kill reply {r}")
        check(srv.proc.wait(30) == 0, f"exit code after kill: {srv.proc.returncode}")
        log = srv.text()
        check("get_action batch=3" in log and "compute=" in log, "request log lines missing")
    finally:
        c.close()
        srv.stop()


def test_token_and_signal(groot, model, work):
    srv = Server(groot, model, work, extra=["--api-token", "s3cret"], tag="token")
    try:
        for tok in (None, "wrong"):
            c = Client(srv.port, token=tok)
            check(c.ping() == {"error": "Unauthorized: Invalid API token"}, f"token {tok!r} let in")
            c.close()
        c = Client(srv.port, token="s3cret")
        check(c.ping() == {"status": "ok", "message": "Server is running"}, "right token refused")
        c.close()
        # SIGTERM: the server finishes and exits 0.
        srv.proc.send_signal(signal.SIGTERM)
        check(srv.proc.wait(30) == 0, f"exit code after SIGTERM: {srv.proc.returncode}")
        print("token rules and SIGTERM work")
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--groot", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    model = synth_model(a.groot, a.work)
    test_main_server(a.groot, model, a.work)
    test_token_and_signal(a.groot, model, a.work)
    print("server_client: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, subprocess.CalledProcessError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
