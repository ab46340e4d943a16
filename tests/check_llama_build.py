"""Fail when the installed llama.cpp was compiled for instructions that not every x86-64 machine of
this project's kind has (AVX-512, AMX): such a build dies with SIGILL on the next machine (#15).
Run by `make test` right after the install; prints the build's feature line either way."""

from __future__ import annotations

import platform
import re
import sys

# Features llama.cpp reports as "NAME = 1" in its system info when compiled in. AVX2/FMA/F16C are
# what the Makefile asks for; these are the ones it must not have (seen on the SIGILL machine).
HOST_SPECIFIC = ("AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AVX_VNNI", "AMX_INT8", "AMX_BF16")


def main() -> int:
    try:
        import llama_cpp
    except ImportError as exc:
        print(f"llama-cpp-python is not installed: {exc}", file=sys.stderr)
        return 1
    info = llama_cpp.llama_print_system_info().decode()
    print(f"llama-cpp-python {llama_cpp.__version__} on {platform.machine()}: {info.strip()}")
    found = [name for name in HOST_SPECIFIC if re.search(rf"\b{name} = 1\b", info)]
    if found:
        print(f"llama.cpp was built with {', '.join(found)}: it will die with an illegal instruction on "
              "CPUs without them. Rebuild portably: rm .venv/.installed-llama-* && make test", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
