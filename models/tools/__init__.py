"""Tooling for the bundled "shapes" diffusion model.

Everything here runs on Debian's packages only (python3-torch, python3-onnx,
python3-numpy, python3-pil) with /usr/bin/python3.  See models/README.md.
"""
