"""A program that reads its configuration once, when it is imported (as many do):
``TOY_CONFIG_BUGS=inplace`` makes it overwrite its file in place, in two writes."""

import os

BUGS = os.environ.get("TOY_CONFIG_BUGS", "")


def save(folder: str, text: str) -> None:
    path = os.path.join(folder, "data.txt")
    if "inplace" in BUGS:
        with open(path, "w") as out:  # truncated, then filled in two writes: a kill between
            out.write(text[:5])  # them leaves half a file
            out.flush()
            out.write(text[5:])
        return
    with open(path + ".tmp", "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(path + ".tmp", path)
