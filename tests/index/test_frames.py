"""Stack-trace frames in a pasted query: each language's frame shape gives its file (and its
function where the trace says it); installed libraries' frames and plain prose give none."""

from __future__ import annotations

from assistant.index.frames import Frame, frames, matching_files


def test_each_language_s_frames_give_their_file_and_function() -> None:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/home/me/proj/src/flask/app.py", line 1498, in __call__\n'
        '  File "/usr/lib/python3.11/site-packages/werkzeug/serving.py", line 12, in run_wsgi\n'
        'Exception in thread "main" java.lang.NullPointerException\n'
        "        at com.example.shop.Book.getTitle(Book.java:16)\n"
        "    at Object.parseConfig (/app/src/lib/parser.ts:12:5)\n"
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
        "    at /app/node_modules/express/lib/router.js:3:1\n"
        "/app/lib/acme/parser.rb:12:in `parse'\n"
        "goroutine 1 [running]:\n"
        "main.(*Server).handle(0xc000010000)\n"
        "\t/home/u/acme/server.go:42 +0x1d\n"
        "thread 'main' panicked at src/config.rs:10:5:\n"
    )
    assert frames(trace) == [
        Frame("/home/me/proj/src/flask/app.py", "__call__"),
        Frame("com/example/shop/Book.java", "getTitle"),
        Frame("/app/src/lib/parser.ts", "parseConfig"),
        Frame("/app/lib/acme/parser.rb", "parse"),
        Frame("/home/u/acme/server.go", "handle"),
        Frame("src/config.rs", None),
    ]


def test_prose_and_urls_have_no_frames() -> None:
    assert frames("how does the app handle a request? see docs/guide.md and https://example.com:8080/x") == []
    assert frames("Fix the retry loop in the scheduler") == []


def test_a_frame_names_the_files_sharing_its_longest_tail_of_components() -> None:
    paths = {
        "app.py": ["src/flask/app.py", "examples/tutorial/app.py"],
        "Book.java": ["shop/src/main/java/com/example/shop/Book.java", "legacy/Book.java"],
    }
    assert matching_files("/home/me/proj/src/flask/app.py", paths) == ["src/flask/app.py"]
    assert matching_files("com/example/shop/Book.java", paths) == ["shop/src/main/java/com/example/shop/Book.java"]
    assert matching_files("/elsewhere/app.py", paths) == ["src/flask/app.py", "examples/tutorial/app.py"]
    assert matching_files("/x/missing.py", paths) == []
