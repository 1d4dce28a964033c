from tube2lora_shared.cache import Cache


def test_put_get_and_files(tmp_path):
    cache = Cache(tmp_path)
    key = Cache.key("media", "v1")
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc")
    entry = cache.put("ns", key, {"n": 1}, {"media.bin": src})
    assert cache.get("ns", key) == {"n": 1, "files": ["media.bin"]}
    assert (entry / "media.bin").read_bytes() == b"abc"
    assert not src.exists()


def test_keys_depend_on_every_part():
    assert Cache.key("a", {"x": 1}) == Cache.key("a", {"x": 1})
    assert Cache.key("a", {"x": 1}) != Cache.key("a", {"x": 2})


def test_half_written_entries_are_never_read(tmp_path):
    cache = Cache(tmp_path)
    key = Cache.key("k")
    # a writer killed before its rename leaves only a hidden staging directory behind
    stage = cache.entry_dir("ns", key).parent / f".{key}.123.tmp"
    stage.mkdir(parents=True)
    (stage / "media.bin").write_bytes(b"partial")
    assert cache.get("ns", key) is None
    entry = cache.put("ns", key, {"ok": True})
    (entry / "entry.json").write_text('{"files": ["gone.bin"]}')
    assert cache.get("ns", key) is None  # a listed file is missing: treated as absent
