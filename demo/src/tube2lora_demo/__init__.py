"""What tube2lora's offline demo and sample recipe serve, as product code that the Makefile, the tests and
the benchmarks import: the sample channel (sample_channel/), llama.cpp's server with SmolLM2
(llama_server), the deterministic fake LLM (fake_llm), and the supervisor that serves them while a stage
runs (serve, the `tube2lora-demo` command)."""
