"""Regenerate the small fixture files in this folder: ``python make_fixtures.py``."""

import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent


def w(name, data):
    (HERE / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def rec(word, values, newline=True):
    return word.encode() + b" " + struct.pack(f"<{len(values)}f", *values) + (b"\n" if newline else b"")


w("good.txt", "3 3\nthe 0.1 0.2 0.3 \nof -1 2.5e-3 4\nand 1 2 3 \n")
w("crlf.txt", "3 3\r\nthe 0.1 0.2 0.3\r\nof -1 2.5e-3 4\r\nand 1 2 3\r\n")
w("glove_spaces.txt", "the 0.1 0.2 0.3\n. . . 1 2 3\nat name@domain.com 4 5 6\n")
w("too_few.txt", "3 3\nthe 0.1 0.2 0.3\nof 1 2\nand 1 2 3\n")
w("too_many.txt", "3 3\nthe 0.1 0.2 0.3\nof 1 2 3 4\nand 1 2 3\n")
w("not_number.txt", "3 3\nthe 0.1 0.2 0.3\nof 1 x2 3\nand 1 2 3\n")
w("nan.txt", "3 3\nthe 0.1 0.2 0.3\nof 1 nan 3\nand 1 2 3\n")
w("inf.txt", "the 0.1 0.2 0.3\nof 1 2 -inf\nand 1 2 1e39\n")
w("bad_header.txt", "3 three\nthe 0.1 0.2 0.3\n")
w("empty.txt", "")
w("blank.txt", "\n  \n")
w("duplicates.txt", "4 2\nthe 1 2\nof 3 4\nthe 5 6\nand 7 8\n")
w("header_mismatch.txt", "5 2\nthe 1 2\nof 3 4\nand 5 6\n")
w("bad_utf8.txt", b"2 2\ncaf\xe9 1 2\nok 3 4\n")
w("many_errors.txt", "5 3\nthe 0.1 0.2 0.3\nof 1 2\nand 1 2 3\na 1 2 3 4\nin 1 nan 3\nto 1 2 z\n")
w("good.bin", b"2 3\n" + rec("the", [0.1, 0.2, 0.3]) + rec("of", [-1, 2.5e-3, 4]))
w("no_newline.bin", b"2 3\n" + rec("the", [0.1, 0.2, 0.3], False) + rec("of", [-1, 0.5, 4], False))
w("truncated.bin", b"2 3\n" + rec("the", [0.1, 0.2, 0.3]) + rec("of", [-1, 2.5e-3, 4])[:7])
w("nan.bin", b"3 3\n" + rec("the", [0.1, 0.2, 0.3]) + rec("of", [1, float("nan"), 3])
  + rec("and", [1, 2, float("inf")]))
w("bad_header.bin", b"two 3\n" + rec("the", [0.1, 0.2, 0.3]))
w("garbage.dat", bytes(range(256)) * 4)
