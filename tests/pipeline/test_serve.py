"""tube2lora-demo: what a recipe gets served (decided from its validated config), and the supervisor that
serves it while a stage runs and reports the LLM server's death."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tube2lora_demo import serve as supervisor
from tube2lora_demo.llama_server import MODEL_ALIAS, LlamaCppServer
from tube2lora_demo.plan import Plan, plan
from tube2lora_demo.server_watch import STATUS_ENV
from tube2lora_shared.config import load_config
from tube2lora_shared.rundir import RunDir

DEMO = str(Path(sys.executable).parent / "tube2lora-demo")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_the_plan_comes_from_the_validated_config_not_its_text(tmp_path):
    commented = write(tmp_path / "real.yaml", """\
        # tried first against the sample channel on http://127.0.0.1:8765/feed.xml and the fake LLM on
        # base_url: http://127.0.0.1:8766/v1, base_url_env: TUBE2LORA_DEMO_LLM_URL
        input:
          urls: [https://www.youtube.com/@someone]
        llm:
          base_url: http://10.0.0.5:8766/v1
        """)
    assert plan(load_config(commented)) == Plan()
    result = subprocess.run([DEMO, "plan", "--config", str(commented)], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")

    (tmp_path / "urls.txt").write_text("# the sample channel\nhttp://127.0.0.1:8765/feed.xml\n")
    sample = write(tmp_path / "sample.yaml", """\
        input:
          url_file: urls.txt
        llm:
          base_url: http://localhost:8766/v1
        """)
    assert plan(load_config(sample)) == Plan(channel_port=8765, fake_llm_port=8766)
    result = subprocess.run([DEMO, "plan", "--config", str(sample)], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["channel", "fake-llm"]


def test_llama_is_planned_only_for_the_model_it_serves_and_not_when_one_already_answers(tmp_path):
    def recipe(model: str) -> Path:
        return write(tmp_path / f"{model}.yaml", f"llm:\n  base_url_env: T2L_URL\n  model: {model}\n")

    assert plan(load_config(recipe(MODEL_ALIAS)), env={}) == Plan(llama_url_env="T2L_URL")
    assert plan(load_config(recipe("mistral-large")), env={"T2L_URL": "http://10.0.0.5/v1"}) == Plan()


def test_a_bad_recipe_is_one_clear_error(tmp_path):
    bad = write(tmp_path / "bad.yaml", "llm:\n  concurrency: 0\n")
    result = subprocess.run([DEMO, "plan", "--config", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("error: llm.concurrency") and len(
        result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_comment_naming_the_sample_port_serves_nothing(tmp_path):
    port = free_port()
    recipe = write(tmp_path / "recipe.yaml", f"""\
        # the sample channel would be http://127.0.0.1:{port}/feed.xml
        input:
          urls: [https://www.youtube.com/@someone]
        """)
    probe = f"import urllib.request as u\ntry: u.urlopen('http://127.0.0.1:{port}/feed.xml', timeout=2)\n" \
            "except OSError: raise SystemExit(5)"
    result = subprocess.run([DEMO, "serve", "--config", str(recipe), "--sample-port", str(port), "--",
                             sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 5, result.stderr


def test_a_port_held_by_something_else_is_one_clear_error(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        recipe = write(tmp_path / "recipe.yaml", f"input:\n  urls: [http://127.0.0.1:{port}/feed.xml]\n")
        result = subprocess.run([DEMO, "serve", "--config", str(recipe), "--sample-port", str(port), "--",
                                 sys.executable, "-c", "print('ran')"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "ran" not in result.stdout
    assert result.stderr.strip() == (f"error: cannot serve the sample channel on 127.0.0.1:{port} (Address already "
                                     "in use); the recipe names that port: stop whatever holds it")


def test_the_command_runs_with_the_fake_llm_and_its_status_is_returned(tmp_path):
    port = free_port()
    recipe = write(tmp_path / "recipe.yaml", f"llm:\n  base_url: http://127.0.0.1:{port}/v1\n")
    models = f"http://127.0.0.1:{port}/v1/models"
    code = f"import sys, urllib.request as u; sys.exit(3 if b'fake-model' in u.urlopen({models!r}).read() else 1)"
    command = [DEMO, "serve", "--config", str(recipe), "--fake-llm-port", str(port)]
    result = subprocess.run([*command, "--llm", "--", sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 3, result.stderr
    result = subprocess.run([*command, "--", sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, "a stage that calls no LLM gets no LLM served"


# A stand-in for llama.cpp's server: lists the model, answers completions, logs a line per request, and
# dies by the signal a request to /die/<signal> names (or on its first completion with --crash-on-chat).
STAND_IN = '''
import json, os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        print("stand-in:", format % args, flush=True)

    def _json(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/die/"):
            print("stand-in: ggml_backend_amx_mul_mat", flush=True)
            os.kill(os.getpid(), getattr(signal, self.path.rsplit("/", 1)[1]))
        self._json({"data": [{"id": "smollm2-135m-instruct"}]})

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        if "--crash-on-chat" in sys.argv:
            print("stand-in: ggml_backend_amx_mul_mat", flush=True)
            os.kill(os.getpid(), signal.SIGSEGV)
        self._json({"choices": [{"message": {"content": "Hi"}}]})

print("stand-in: model loaded", flush=True)
HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
'''

# The command the supervisor wraps: the status file must not exist while the server runs; then it kills the
# server and waits for the file.
COMMAND = '''
import json, os, sys, time, urllib.request as u
status = os.environ["TUBE2LORA_LLM_SERVER_STATUS"]
assert not os.path.exists(status), "a status file while the server is alive"
assert b"smollm2" in u.urlopen(os.environ["T2L_URL"] + "/models").read()
try:
    u.urlopen(os.environ["T2L_URL"].removesuffix("/v1") + "/die/" + sys.argv[1], timeout=5)
except OSError:
    pass
deadline = time.monotonic() + 10
while not os.path.exists(status) and time.monotonic() < deadline:
    time.sleep(0.1)
print(open(status).read())
'''


class StandInServer(LlamaCppServer):
    def __init__(self, script: Path, *flags: str, **kwargs):
        super().__init__(**kwargs)
        self.script, self.flags = script, flags

    def command(self) -> list[str]:
        return [sys.executable, str(self.script), str(self.port), *self.flags]


@pytest.fixture
def llama_recipe(tmp_path, monkeypatch):
    monkeypatch.delenv("T2L_URL", raising=False)
    (tmp_path / "stand_in.py").write_text(STAND_IN)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"paths": {"runs_dir": str(tmp_path / "runs")},
                                      "llm": {"base_url_env": "T2L_URL", "model": MODEL_ALIAS}}))
    return recipe


def use_stand_in(monkeypatch, script: Path, *flags: str) -> None:
    monkeypatch.setattr(supervisor, "LlamaCppServer", lambda log_file: StandInServer(script, *flags, log_file=log_file))


@pytest.mark.parametrize("how", ["SIGSEGV", "SIGKILL"])
def test_a_server_that_dies_during_the_command_leaves_a_status_file(llama_recipe, monkeypatch, capfd, how):
    use_stand_in(monkeypatch, llama_recipe.parent / "stand_in.py")
    logs = RunDir.for_config(load_config(llama_recipe)).root / "logs"
    logs.mkdir(parents=True)
    (logs / "llm-server.status.json").write_text('{"stale": true}')  # from an earlier run: removed at start

    code = supervisor.serve(llama_recipe, [sys.executable, "-c", COMMAND, how], llm=True)

    out, err = capfd.readouterr()
    status = json.loads((logs / "llm-server.status.json").read_text())
    assert json.loads(out) == status
    assert code == 1
    assert status["what"] == "llama.cpp server (SmolLM2-135M-Instruct)" and isinstance(status["pid"], int)
    assert (status["returncode"], status["signal"]) == (-getattr(signal, how), how)
    assert status["log"] == str(logs / "llm-server.log")
    assert status["log_tail"][0] == "stand-in: model loaded"
    assert status["log_tail"][-1] == "stand-in: ggml_backend_amx_mul_mat"
    assert f"died while the command ran with {how}" in err and "stand-in: ggml_backend_amx_mul_mat" in err


def test_the_status_file_names_the_variable_and_stays_absent_when_the_server_lives(llama_recipe, monkeypatch):
    use_stand_in(monkeypatch, llama_recipe.parent / "stand_in.py")
    check = "import os, sys; p = os.environ['TUBE2LORA_LLM_SERVER_STATUS']; " \
            "sys.exit(7 if p.endswith('/logs/llm-server.status.json') and not os.path.exists(p) else 1)"
    assert supervisor.serve(llama_recipe, [sys.executable, "-c", check], llm=True) == 7
    logs = RunDir.for_config(load_config(llama_recipe)).root / "logs"
    assert not (logs / "llm-server.status.json").exists()
    assert STATUS_ENV == "TUBE2LORA_LLM_SERVER_STATUS"


def test_a_server_that_crashes_on_its_first_completion_fails_at_start(llama_recipe, monkeypatch, capfd):
    use_stand_in(monkeypatch, llama_recipe.parent / "stand_in.py", "--crash-on-chat")
    code = supervisor.serve(llama_recipe, [sys.executable, "-c", "print('ran')"], llm=True)
    out, err = capfd.readouterr()
    assert code == 2 and "ran" not in out
    first = err.strip().splitlines()[0]
    assert first.startswith("error: llama.cpp server (SmolLM2-135M-Instruct) (pid ") and \
        "died on its first completion with SIGSEGV; rebuild it with `rm -rf .tools/llm-server && make llm-server`" \
        in first, err
    assert err.strip().splitlines()[-1].strip() == "stand-in: ggml_backend_amx_mul_mat"


def test_the_build_smoke_test_wants_the_json_object_its_schema_asks_for(llama_recipe, monkeypatch):
    from tube2lora_demo import llama_server

    script = llama_recipe.parent / "stand_in.py"  # answers every completion with a bare "Hi"
    monkeypatch.setattr(llama_server, "LlamaCppServer", lambda log_file: StandInServer(script, log_file=log_file))
    with pytest.raises(llama_server.LlamaServerError, match=r"answered 'Hi', not the JSON object its response_format"):
        llama_server.check_llm_server(llama_recipe.parent / "smoke.log")
