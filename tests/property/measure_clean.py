"""Time the issue's two cases (run by hand: ``.venv/bin/python tests/property/measure_clean.py``).

Ten 64 KB messages of ``<script>`` through ``build_conversation`` and one 1 MB paste through
``clean_text``, in CPU seconds of this process. Before the fix (old clean_text): 11.6 s and 329 s.
"""

from __future__ import annotations

import time

from zdtriage import prompt


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    message = "<script>" * (64 * 1024 // 8)
    ten = [prompt.Message("customer", message) for _ in range(10)]
    paste = "<script>" * (1024 * 1024 // 8)
    seconds = cpu(lambda: prompt.build_conversation('s', ten, 6000))
    print(f"ten 64 KB '<script>' messages, build_conversation: {seconds:.3f} s")
    print(f"one 1 MB '<script>' paste, clean_text: {cpu(lambda: prompt.clean_text(paste)):.3f} s")
    mixed = ("<p>" + "&amp;lt;b&amp;gt;" + "x<y " + "<a href='x'>" + "<Enter>") * 25_000
    print(f"one 1 MB of mixed markup, clean_text: {cpu(lambda: prompt.clean_text(mixed)):.3f} s")


if __name__ == "__main__":
    main()
